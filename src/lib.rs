//! Support shared by the workspace's cross-crate tests (`tests/`) and benches (`benches/`):
//! where the datasets and the built binaries are.
//!
//! The tests run the real command-line tools. Cargo builds a package's own binaries for
//! its integration tests, but not other packages' binaries, so `scripts/test.sh` runs
//! `cargo build --release --workspace --bins` before `cargo test`; [`bin_path`] finds
//! those release builds. Run that build yourself before `cargo test` by hand.

use std::path::{Path, PathBuf};

/// Environment variable that overrides the data directory.
pub const DATA_ENV: &str = "PICOCNN_DATA";
/// Environment variable that overrides the directory holding the built binaries.
pub const BIN_DIR_ENV: &str = "PICOCNN_BIN_DIR";

/// The workspace root (this package's manifest directory).
pub fn workspace_dir() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Where the datasets are: `$PICOCNN_DATA` if set, else `<workspace>/data`, the place
/// `scripts/fetch-data.sh` fills by default.
pub fn data_dir() -> PathBuf {
    match std::env::var_os(DATA_ENV) {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => workspace_dir().join("data"),
    }
}

/// Cargo's target directory: the one the running test or bench executable was built into
/// (`<target>/<profile>/deps/<exe>`), which honours `CARGO_TARGET_DIR` and cargo config
/// alike; failing that `$CARGO_TARGET_DIR`, else `<workspace>/target`.
pub fn target_dir() -> PathBuf {
    let exe = std::env::current_exe().ok();
    let built_into = exe
        .as_deref()
        .and_then(Path::parent)
        .filter(|deps| deps.file_name().is_some_and(|n| n == "deps"))
        .and_then(Path::parent)
        .and_then(Path::parent);
    if let Some(target) = built_into {
        return target.to_owned();
    }
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => workspace_dir().join("target"),
    }
}

/// The path of workspace binary `name` (e.g. `trainer`, `firmware-sim`) as built by
/// `cargo build --release`: `<target>/release/<name>`, or `$PICOCNN_BIN_DIR/<name>` when
/// that variable is set (to test another build, e.g. a portable one).
///
/// # Panics
/// If the binary does not exist, with a message saying how to build it: a test that needs
/// a binary cannot do anything useful without it.
pub fn bin_path(name: &str) -> PathBuf {
    let dir = match std::env::var_os(BIN_DIR_ENV) {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => target_dir().join("release"),
    };
    let path = dir.join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    assert!(
        path.is_file(),
        "{}: not built; run `cargo build --release --workspace --bins` first \
         (scripts/test.sh does)",
        path.display()
    );
    path
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn target_dir_is_where_this_test_was_built() {
        let exe = std::env::current_exe().unwrap();
        assert!(exe.starts_with(target_dir()), "{}", exe.display());
    }

    #[test]
    fn data_dir_holds_the_fetched_datasets() {
        for name in ["mnist", "fashion"] {
            let dir = data_dir().join(name);
            assert!(dir.is_dir(), "{}: run scripts/fetch-data.sh", dir.display());
        }
    }

    #[test]
    #[should_panic(expected = "not built; run `cargo build --release")]
    fn a_missing_binary_says_how_to_build_it() {
        bin_path("no-such-picocnn-binary");
    }
}
