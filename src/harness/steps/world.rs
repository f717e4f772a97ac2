//! Steps about the world itself: starting it and moving its clock.

use super::instant;
use crate::clock::parse_duration;
use crate::harness::scene::Scene;
use cucumber::{given, when};

#[given(regex = r#"^a sandbank world on the default channels with the clock at "([^"]+)"$"#)]
async fn world_at(s: &mut Scene, start: String) {
    s.start_world(instant(&start)).await;
}

#[when(regex = r#"^the clock moves to "([^"]+)"$"#)]
async fn clock_to(s: &mut Scene, to: String) {
    if let Err(e) = s.sb().advance(Some(instant(&to))).await {
        panic!("the clock could not move: {e}");
    }
}

#[when(regex = r#"^the clock advances (\S+)$"#)]
async fn clock_advances(s: &mut Scene, by: String) {
    let d = parse_duration(&by).unwrap_or_else(|e| panic!("{e}"));
    let to = s.sb().lock().now() + d;
    if let Err(e) = s.sb().advance(Some(to)).await {
        panic!("the clock could not move: {e}");
    }
}
