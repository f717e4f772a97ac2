//! `cargo bench --bench wire`: sandbank over real sockets, beside an in-tree bare hyper
//! server doing the least an HTTP server can, in one run; every figure printed with its
//! baseline, the ratio and the goal. Loopback only; every phase is bounded in time.

mod figure;
mod notify;
mod orders;

fn main() {
    let bin = std::path::Path::new(env!("CARGO_BIN_EXE_sandbank"));
    let mut figures: Vec<figure::Figure> = Vec::new();
    figures.extend(orders::run(bin));
    figures.extend(notify::run(bin));
    let missed = figure::print(&figures);
    println!("\n{missed} goal(s) missed");
}
