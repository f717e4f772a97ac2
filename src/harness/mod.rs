//! The conformance harness (work in progress in this commit).
