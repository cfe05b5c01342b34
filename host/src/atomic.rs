//! Atomic file output: every file the tools write goes through here.
//!
//! The bytes go to a temporary file in the destination's own directory, are flushed to
//! disk, and the file is renamed over the destination. A reader, or a run killed half
//! way, sees either the old file or the new one, never a mix.

use std::io::Write;
use std::path::Path;

/// Writes `bytes` to `path` atomically (temp file in the same directory, fsync, rename,
/// fsync of the directory).
///
/// # Errors
/// Any I/O error creating, writing, syncing or renaming the temporary file; the
/// destination is then unchanged.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    let prefix = format!(
        ".{}.",
        path.file_name().unwrap_or_default().to_string_lossy()
    );
    let mut file = temp_builder(&prefix, path).tempfile_in(dir)?;
    file.write_all(bytes)?;
    file.as_file().sync_all()?;
    file.persist(path).map_err(|e| e.error)?;
    // Make the rename itself durable; some file systems refuse to sync a directory, and
    // the new file is complete either way.
    #[cfg(unix)]
    let _ = std::fs::File::open(dir).and_then(|d| d.sync_all());
    Ok(())
}

/// A temporary-file builder whose file gets the permissions a plain `File::create` would
/// give: the destination's own when it exists, else `0o666` less the umask. (`tempfile`
/// alone creates `0o600` files, and the rename would carry that over to the output.)
///
/// The name is `<prefix><random>.tmp` with the prefix `.<file name>.`: a leftover of a
/// killed run says what it was and matches the repository's `*.tmp` ignore rule.
fn temp_builder<'a>(prefix: &'a str, path: &Path) -> tempfile::Builder<'a, 'static> {
    let mut builder = tempfile::Builder::new();
    builder.prefix(prefix).suffix(".tmp");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let permissions = std::fs::metadata(path)
            .map(|m| m.permissions())
            .unwrap_or_else(|_| std::fs::Permissions::from_mode(0o666));
        builder.permissions(permissions);
    }
    #[cfg(not(unix))]
    let _ = path;
    builder
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_the_whole_file_and_leaves_no_temp_behind() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.bin");
        write_atomic(&path, b"first version, longer").unwrap();
        write_atomic(&path, b"second").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"second");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[cfg(unix)]
    #[test]
    fn outputs_get_the_permissions_of_an_ordinary_file_not_a_private_temp_file() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        let plain = dir.path().join("plain.bin");
        std::fs::write(&plain, b"x").unwrap();
        let path = dir.path().join("new.bin");
        write_atomic(&path, b"new").unwrap();
        assert_eq!(
            mode(&path),
            mode(&plain),
            "a new file is created like File::create's"
        );
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
        write_atomic(&path, b"replaced").unwrap();
        assert_eq!(mode(&path), 0o640, "a replaced file keeps its permissions");
    }
}
