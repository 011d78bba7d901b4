//! The binary the images run: replace it with your service.

fn main() {
    println!("service {}", env!("CARGO_PKG_VERSION"));
}
