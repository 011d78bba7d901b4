# Helpers shared by the stand-ins: a stand-in derivation that records what it was asked to
# build, and the argument check every stand-in applies.
let
  inherit (builtins)
    attrNames
    concatStringsSep
    elem
    filter
    hashString
    head
    mapAttrs
    substring
    toJSON
    typeOf
    ;

  # Arguments as plain data for hashing: derivations become their outPath, functions a marker,
  # paths their name (toString, never copied to the store), a lib.fileset source or a filtered
  # source (stand-ins/lib.nix) its path and what it keeps, as its real store path would be of.
  sanitize =
    v:
    let
      t = typeOf v;
    in
    if t == "set" then
      (
        if v ? _standinContent then
          "${toString v.outPath}#${v._standinContent}"
        else if v ? outPath then
          toString v.outPath
        else
          mapAttrs (_: sanitize) v
      )
    else if t == "list" then
      map sanitize v
    else if t == "lambda" then
      "<function>"
    else if t == "path" then
      toString v
    else
      v;
in
{
  inherit sanitize;

  # `fn` names the stand-in (e.g. "crane.buildPackage"), `args` are kept verbatim for the
  # tests, `info` holds what the real function would decide (platform, profile...). The
  # outPath changes with any of them, like a real store path would.
  mk =
    {
      fn,
      name,
      args ? { },
      info ? { },
    }:
    let
      key = hashString "sha256" (toJSON (sanitize { inherit fn name args info; }));
    in
    {
      type = "derivation";
      inherit name;
      outPath = "/nix/store/${substring 0 32 key}-${name}";
      drvPath = "/nix/store/${substring 32 32 key}-${name}.drv";
      standin = { inherit fn args; } // info;
    };

  # Fails evaluation on any attribute name `fn` does not accept, naming it and the accepted
  # ones. `why` says what the real function would do with it.
  checkArgs =
    fn: accepted: why: args:
    let
      unknown = filter (n: !elem n accepted) (attrNames args);
    in
    if unknown == [ ] then
      args
    else
      throw "stand-in ${fn}: unknown argument `${head unknown}` (${why}); accepted: ${concatStringsSep ", " accepted}";

  isStandin = v: builtins.isAttrs v && v ? standin;
}
