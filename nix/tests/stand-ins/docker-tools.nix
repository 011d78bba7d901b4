# Stand-in for nixpkgs' dockerTools.streamLayeredImage (pkgs/build-support/docker/default.nix).
# Accepted arguments, exactly, as the nixpkgs manual documents them at
# 0148e16d1446003704803ecabb5a00cfea7d8568 (doc/build-helpers/images/dockertools.section.md,
# "streamLayeredImage > Inputs"), which matches the function's formals read at
# 34b7a306c35b279929eebbdb43af071fd92d0d4b plus the later `architecture`, `mtime`, `uid`, `gid`,
# `uname`, `gname` and `includeNixDB`. The real function has no `...`, so like this one it rejects
# anything else. (Later nixpkgs also takes meta, layeringPipeline and debug; the wiring uses
# none of them, so they are left out rather than guessed.)
#
# As in the real one, `architecture` defaults to the GOARCH of the package set's host platform:
# pkgsCross.aarch64-multiplatform.dockerTools makes arm64 images.
{ defaultArchitecture, host }:
let
  drv = import ./drv.nix;
in
{
  streamLayeredImage =
    {
      name,
      tag ? null,
      fromImage ? null,
      contents ? [ ],
      config ? { },
      architecture ? defaultArchitecture,
      created ? "1970-01-01T00:00:01Z",
      mtime ? "1970-01-01T00:00:01Z",
      uid ? 0,
      gid ? 0,
      uname ? "root",
      gname ? "root",
      maxLayers ? 100,
      extraCommands ? "",
      fakeRootCommands ? "",
      enableFakechroot ? false,
      includeStorePaths ? true,
      includeNixDB ? false,
      passthru ? { },
    }@args:
    assert
      maxLayers > 1
      || throw "the maxLayers argument of dockerTools.buildLayeredImage function must be greather than 1";
    drv.mk {
      fn = "dockerTools.streamLayeredImage";
      name = "stream-${baseNameOf name}";
      inherit args;
      info = {
        inherit
          host
          architecture
          created
          contents
          config
          fromImage
          tag
          ;
        imageName = name;
      };
    }
    // passthru
    // {
      imageName = name;
      imageTag = tag;
      isExe = true;
    };
}
