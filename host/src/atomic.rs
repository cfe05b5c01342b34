//! Atomic file output: every file the tools write goes through here.
//!
//! The bytes go to a temporary file in the destination's own directory, are flushed to
//! disk, and the file is renamed over the destination. A reader, or a run killed half
//! way, sees either the old file or the new one, never a mix.

use std::io::Write;
use std::path::{Path, PathBuf};

/// Writes `bytes` to `path` atomically (temp file in the same directory, fsync, rename,
/// fsync of the directory).
///
/// # Errors
/// Any I/O error creating, writing, syncing or renaming the temporary file; the
/// destination is then unchanged.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    write_set(&[(path, bytes)]).map_err(|(_, e)| e)
}

/// Writes several files that belong together (a model, its checkpoint, its history):
/// every one is first written and synced to a temporary file beside its destination, and
/// only when all of them are complete are they renamed into place, one after the other.
/// Anything that can fail for lack of space or permission fails before the first rename,
/// leaving every destination as it was.
///
/// # Errors
/// The file concerned and the I/O error; no destination has changed unless the error
/// came from a rename (which, within one directory, only a vanished directory causes).
pub fn write_set(files: &[(&Path, &[u8])]) -> Result<(), (PathBuf, std::io::Error)> {
    let mut staged = Vec::with_capacity(files.len());
    for &(path, bytes) in files {
        let file = stage(path, bytes).map_err(|e| (path.to_owned(), e))?;
        staged.push((path, file));
    }
    let mut dirs = Vec::new();
    for (path, file) in staged {
        file.persist(path).map_err(|e| (path.to_owned(), e.error))?;
        let dir = parent_dir(path);
        if !dirs.contains(&dir) {
            dirs.push(dir);
        }
    }
    // Make the renames themselves durable; some file systems refuse to sync a directory,
    // and the new files are complete either way.
    #[cfg(unix)]
    for dir in dirs {
        let _ = std::fs::File::open(dir).and_then(|d| d.sync_all());
    }
    Ok(())
}

/// The directory a file is written in (`.` for a bare file name).
fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    }
}

/// `bytes` in a synced temporary file in `path`'s directory, not yet renamed.
fn stage(path: &Path, bytes: &[u8]) -> std::io::Result<tempfile::NamedTempFile> {
    let prefix = format!(
        ".{}.",
        path.file_name().unwrap_or_default().to_string_lossy()
    );
    let mut file = temp_builder(&prefix, path).tempfile_in(parent_dir(path))?;
    file.write_all(bytes)?;
    file.as_file().sync_all()?;
    Ok(file)
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
    fn a_set_is_written_whole_or_not_at_all() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("a.bin"), dir.path().join("b.ckpt"));
        write_set(&[(&a, b"old a"), (&b, b"old b")]).unwrap();
        // The second file's directory does not exist: nothing may change.
        let missing = dir.path().join("missing/c.json");
        let err = write_set(&[(&a, b"new a"), (&b, b"new b"), (&missing, b"c")]).unwrap_err();
        assert_eq!(err.0, missing);
        assert_eq!(std::fs::read(&a).unwrap(), b"old a");
        assert_eq!(std::fs::read(&b).unwrap(), b"old b");
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            2,
            "no temp left"
        );
        write_set(&[(&a, b"new a"), (&b, b"new b")]).unwrap();
        assert_eq!(std::fs::read(&b).unwrap(), b"new b");
    }

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
