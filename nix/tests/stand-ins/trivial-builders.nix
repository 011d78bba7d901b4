# Stand-ins for the nixpkgs trivial builders nix/*.nix calls, with the real signatures of
# pkgs/build-support/trivial-builders/default.nix read at
# 00ee9b64aafebe333c3e33ffb093734092158728. Their attribute-set arguments have no `...` there
# either, so an unknown argument fails the same way.
{ host }:
let
  drv = import ./drv.nix;
in
{
  writeTextDir =
    path: text:
    drv.mk {
      fn = "writeTextDir";
      name = baseNameOf path;
      args = { inherit path text; };
      info = { inherit host; };
    };

  writeShellScriptBin =
    name: text:
    drv.mk {
      fn = "writeShellScriptBin";
      inherit name;
      args = { inherit name text; };
      info = { inherit host; };
    };

  # Checked with a `throw`, which builtins.tryEval can catch (see docker-tools.nix).
  writeShellApplication =
    args:
    let
      a = drv.checkArgs "writeShellApplication" [
        "name"
        "text"
        "runtimeInputs"
        "runtimeEnv"
        "meta"
        "passthru"
        "checkPhase"
        "excludeShellChecks"
        "extraShellCheckFlags"
        "bashOptions"
        "derivationArgs"
        "inheritPath"
      ] "the real function has no `...`, so Nix refuses the call" args;
    in
    if !(a ? name && a ? text) then
      throw "stand-in writeShellApplication: `name` and `text` are required"
    else
      drv.mk {
        fn = "writeShellApplication";
        inherit (a) name;
        args = a;
        info = { inherit host; };
      };

  # runCommand name env buildCommand: `env` goes to stdenv.mkDerivation, which takes any
  # attribute, so only its type is checked.
  runCommand =
    name: env: buildCommand:
    if !builtins.isAttrs env then
      throw "stand-in runCommand: the second argument must be an attribute set"
    else
      drv.mk {
        fn = "runCommand";
        inherit name;
        args = env // { inherit buildCommand; };
        info = { inherit host; };
      };
}
