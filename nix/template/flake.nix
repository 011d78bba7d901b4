{
  description = "service: OCI images built with ship";

  inputs.ship.url = "github:ship-rs/ship";

  outputs = { self, ship }: ship.lib.mkFlake { inherit self; root = ./.; };
}
