# What `nix flake show` would list, per output and system, for the flake evaluated against the
# stand-ins, plus the arguments of every deps/app/image build and what the checks build on as
# plain data (shape.nix), for crates/ship/tests/nix_wiring.rs:
#   nix-instantiate --eval --strict --json nix/tests/show.nix
let
  rev = "0123456789abcdef0123456789abcdef01234567";
  flake = (import ../../flake.nix).outputs (
    import ./stand-ins {
      envVars = [ "SHIP_GIT_REV" ];
      inherit rev;
    }
  );
in
{
  inherit rev;
  # The flake library's functions and the templates, besides the per-system outputs.
  lib = builtins.attrNames flake.lib;
  templates = builtins.mapAttrs (_: t: {
    path = toString t.path;
    inherit (t) description;
    welcomeText = t.welcomeText or null;
  }) flake.templates;
}
// import ./shape.nix flake
