//! anycastd: announce a service's anycast prefixes through FRRouting only while Cabourotte says it is healthy.

mod config;

fn main() {
    let config = config::Config::load(std::path::Path::new("x"));
    println!("{config:?}");
}
