//! Support shared by the workspace's cross-crate tests (`tests/`) and benches (`benches/`):
//! where the datasets and the built binaries are.
