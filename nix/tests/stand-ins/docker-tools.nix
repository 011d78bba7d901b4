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
  # Checked with a `throw` (not Nix's own "unexpected argument" error, which has the same
  # effect but which builtins.tryEval cannot catch, so the stand-in tests could not see it).
  streamLayeredImage =
    args:
    let
      a = drv.checkArgs "dockerTools.streamLayeredImage" [
        "name"
        "tag"
        "fromImage"
        "contents"
        "config"
        "architecture"
        "created"
        "mtime"
        "uid"
        "gid"
        "uname"
        "gname"
        "maxLayers"
        "extraCommands"
        "fakeRootCommands"
        "enableFakechroot"
        "includeStorePaths"
        "includeNixDB"
        "passthru"
      ] "the real function has no `...`, so Nix refuses the call" args;
      name = a.name or (throw "stand-in dockerTools.streamLayeredImage: missing argument `name`");
      tag = a.tag or null;
      architecture = a.architecture or defaultArchitecture;
      created = a.created or "1970-01-01T00:00:01Z";
      maxLayers = a.maxLayers or 100;
    in
    if maxLayers <= 1 then
      throw "the maxLayers argument of dockerTools.buildLayeredImage function must be greather than 1"
    else
      drv.mk {
        fn = "dockerTools.streamLayeredImage";
        name = "stream-${baseNameOf name}";
        args = a;
        info = {
          inherit
            host
            architecture
            created
            tag
            ;
          contents = a.contents or [ ];
          config = a.config or { };
          fromImage = a.fromImage or null;
          imageName = name;
        };
      }
      // (a.passthru or { })
      // {
        imageName = name;
        imageTag = tag;
        isExe = true;
      };
}
