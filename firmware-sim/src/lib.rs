//! Runs the picocnn core as firmware would (work in progress).
