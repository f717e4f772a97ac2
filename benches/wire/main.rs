//! `cargo bench --bench wire`: sandbank over real sockets, beside an in-tree bare hyper
//! server doing the least an HTTP server can, in one run; every figure printed with its
//! baseline, the ratio and the goal. Loopback only; every phase is bounded in time.

mod figure;
mod orders;

fn main() {
    let mut figures: Vec<figure::Figure> = Vec::new();
    figures.extend(orders::run(std::path::Path::new(env!(
        "CARGO_BIN_EXE_sandbank"
    ))));
    let missed = figure::print(&figures);
    println!("\n{missed} goal(s) missed");
}
