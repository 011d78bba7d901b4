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

  writeShellApplication =
    {
      name,
      text,
      runtimeInputs ? [ ],
      runtimeEnv ? null,
      meta ? { },
      passthru ? { },
      checkPhase ? null,
      excludeShellChecks ? [ ],
      extraShellCheckFlags ? [ ],
      bashOptions ? [
        "errexit"
        "nounset"
        "pipefail"
      ],
      derivationArgs ? { },
      inheritPath ? true,
    }@args:
    drv.mk {
      fn = "writeShellApplication";
      inherit name args;
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
