//! The register tile the dense kernels are made of.
//!
//! The dense kernels are one shape of computation: a tile of up to 3 rows by 4 vectors
//! (12 accumulators, 3 broadcasts, one streaming load: all 16 ymm registers) accumulates
//! `a[k][r] * b[k][c]` over a reduction index `k`. Only where `a` and `b` come from
//! differs, so each kernel is a [`Tile`] implementation and [`for_each_tile`] walks the
//! output in such tiles.

use super::{fma, splat};
use safe_arch::m256;

/// Rows of a tile.
const TILE_ROWS: usize = 3;
/// Vectors of a tile.
const TILE_VECS: usize = 4;

/// `acc[r][c] += a[r] * b[c]`: one reduction step of a tile.
#[inline(always)]
pub(super) fn fma_tile<const R: usize, const C: usize>(
    acc: &mut [[m256; C]; R],
    a: [f32; R],
    b: [m256; C],
) {
    let a = a.map(splat);
    for (c, &bc) in b.iter().enumerate() {
        for (acc_r, &ar) in acc.iter_mut().zip(&a) {
            acc_r[c] = fma(ar, bc, acc_r[c]);
        }
    }
}

/// One kernel's tile computation: output rows `r0..r0 + R`, vectors `c0..c0 + C`.
pub(super) trait Tile {
    fn tile<const R: usize, const C: usize>(&mut self, r0: usize, c0: usize);
}

/// Walks `rows x vecs` in tiles of at most [`TILE_ROWS`] x [`TILE_VECS`], tails included.
pub(super) fn for_each_tile<T: Tile>(op: &mut T, rows: usize, vecs: usize) {
    let mut r0 = 0;
    while r0 < rows {
        match rows - r0 {
            1 => tile_row::<T, 1>(op, r0, vecs),
            2 => tile_row::<T, 2>(op, r0, vecs),
            _ => tile_row::<T, TILE_ROWS>(op, r0, vecs),
        }
        r0 += TILE_ROWS.min(rows - r0);
    }
}

fn tile_row<T: Tile, const R: usize>(op: &mut T, r0: usize, vecs: usize) {
    let mut c0 = 0;
    while c0 < vecs {
        match vecs - c0 {
            1 => op.tile::<R, 1>(r0, c0),
            2 => op.tile::<R, 2>(r0, c0),
            3 => op.tile::<R, 3>(r0, c0),
            _ => op.tile::<R, TILE_VECS>(r0, c0),
        }
        c0 += TILE_VECS.min(vecs - c0);
    }
}
