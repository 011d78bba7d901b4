# Stand-in for the part of nixpkgs' `lib` that nix/*.nix uses, nothing more, so any other use
# fails evaluation here and gets a stand-in on purpose.
#
# lib.cleanSourceWith { filter ? _path: _type: true, src, name ? null }: nixpkgs lib/sources.nix
# (formals and the composition `filter path type && orig.filter path type` as read in a recent
# master copy through the search index; its revision was not recorded). The result keeps
# `origSrc`, `name` and the composed `filter` (called with the path as a string and its type),
# which the tests call directly; nothing is copied. As a real store path's hash does, its
# `_standinContent` follows what the filter keeps: the names and contents of the files it
# accepts, in directories it accepts (builtins.path descends only into those). stand-ins/drv.nix
# puts it into the hash of every derivation that takes the source, so a change to a kept file
# changes those derivations and a change to a dropped one none.
#
# lib.fileset.toSource { root, fileset } and lib.fileset.unions [ ... ]: nixpkgs
# lib/fileset/default.nix (read at 006b28f2a8c66b951af691da5f9bc3f426b60a8f). As there, `root`
# must be an existing directory given as a path, and every file set element an existing path
# under it; unlike there nothing is copied to the store (outPath is the directory itself). What
# the store path would hash, the contents of exactly those files, is `_standinContent`, and a
# stand-in derivation given the source hashes it (drv.nix), as a real one would.
let
  inherit (builtins) pathExists typeOf;
  # A file's or directory's contents as one hash (file names and their sha256s; symlinks by
  # what they point at).
  contentOf =
    p:
    let
      type = (builtins.readDir (dirOf p)).${baseNameOf p};
    in
    if type == "directory" then
      builtins.hashString "sha256" (
        builtins.toJSON (builtins.mapAttrs (n: _: contentOf (p + "/${n}")) (builtins.readDir p))
      )
    else if pathExists p then
      builtins.hashFile "sha256" p
    else
      "dangling";
  # [ "relative/path" "sha256 of its contents" ... ] for what `filter` keeps under `dir`.
  kept =
    filter: dir: rel:
    let
      entries = builtins.readDir dir;
    in
    builtins.concatMap (
      name:
      let
        type = entries.${name};
        path = "${toString dir}/${name}";
        r = if rel == "" then name else "${rel}/${name}";
      in
      if !(filter path type) then
        [ ]
      else if type == "directory" then
        kept filter path r
      else if type == "regular" then
        [
          r
          (builtins.hashFile "sha256" path)
        ]
      else
        [
          r
          type
        ]
    ) (builtins.attrNames entries);
  underRoot =
    root: p:
    let
      r = toString root;
      s = toString p;
    in
    s == r || builtins.substring 0 (builtins.stringLength r + 1) s == "${r}/";
in
{
  cleanSourceWith =
    {
      src,
      filter ? _: _: true,
      name ? null,
    }:
    let
      inner = src.filter or (_: _: true);
      origSrc = src.origSrc or src;
      composed = path: type: inner path type && filter path type;
    in
    {
      outPath = toString origSrc;
      inherit origSrc;
      filter = composed;
      _isLibCleanSourceWith = true;
      name = if name == null then src.name or "source" else name;
      _standinContent = builtins.hashString "sha256" (builtins.toJSON (kept composed origSrc ""));
    };

  fileset = {
    toSource =
      { root, fileset }:
      if typeOf root != "path" then
        throw "stand-in lib.fileset.toSource: `root` must be a path, got a ${typeOf root}"
      else if !pathExists root then
        throw "stand-in lib.fileset.toSource: `root` (${toString root}) does not exist"
      else
        let
          paths = fileset._standinPaths or [ fileset ];
          missing = builtins.filter (p: typeOf p != "path" || !pathExists p) paths;
          outside = builtins.filter (p: !underRoot root p) paths;
        in
        if missing != [ ] then
          throw "stand-in lib.fileset.toSource: `${toString (builtins.head missing)}` is not an existing path"
        else if outside != [ ] then
          throw "stand-in lib.fileset.toSource: `${toString (builtins.head outside)}` is not under root ${toString root}"
        else
          {
            outPath = toString root;
            _standinFiles = map toString paths;
            _standinContent = builtins.hashString "sha256" (
              builtins.toJSON (map (p: [ (toString p) (contentOf p) ]) paths)
            );
          };
    unions =
      filesets:
      if typeOf filesets != "list" then
        throw "stand-in lib.fileset.unions: expected a list, got a ${typeOf filesets}"
      else
        { _standinPaths = builtins.concatMap (f: f._standinPaths or [ f ]) filesets; };
  };
}
