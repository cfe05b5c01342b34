//! The dense layers' kernels, as register tiles (see [`super::tile`]).
//!
//! Input rows that are zero for the whole batch are left out of the tiles (listed once by
//! [`nonzero_rows`]), which changes no bit of any sum.

use super::adam::{AdamVec, adam_update};
use super::tile::{Tile, fma_tile, for_each_tile};
use super::{W, lanes, lanes_mut, load, store};
use crate::kernels::AdamStep;
use safe_arch::{
    bitand_m256, bitor_m256, cmp_op, cmp_op_mask_m256, m256, move_mask_m256, prefetch_t0,
    zeroed_m256,
};
use std::array;

/// Reduction rows per block in [`dense_forward`]: the block's weights (48 x 128) and
/// inputs (48 x 32 images) take 30 KiB and stay in L1 while every output tile sweeps them.
const FORWARD_BLOCK: usize = 48;

/// Floats per cache line.
const LINE: usize = 16;

/// Asks for the cache lines of `s[at..at + len]` (clamped to `s`) to be fetched into L1.
///
/// The hidden layer reads its weights in short runs (one 512-byte row, then a jump to the
/// next row that is not zero for the batch), too short for the hardware prefetcher to
/// catch on; each kernel announces the rows it will need next.
#[inline(always)]
fn prefetch(s: &[f32], at: usize, len: usize) {
    let end = (at + len).min(s.len());
    let mut k = at;
    while k < end {
        prefetch_t0(&s[k]);
        k += LINE;
    }
}

/// The `C` vectors starting at float `at` of `s` (unaligned, any offset).
#[inline(always)]
fn vectors<const C: usize>(s: &[f32], at: usize) -> [m256; C] {
    let run: &[f32] = &s[at..at + C * W];
    array::from_fn(|c| load(run[c * W..].first_chunk().expect("run holds C vectors")))
}

/// For each row of an activation (`rows x nv` vectors), whether it is non-zero somewhere
/// in the batch.
fn live_rows(x: &[[f32; W]], nv: usize) -> Vec<bool> {
    let zero = zeroed_m256();
    x.chunks_exact(nv)
        .map(|row| {
            let any = row.iter().fold(zero, |any, v| {
                bitor_m256(
                    any,
                    cmp_op_mask_m256::<{ cmp_op!(NotEqualUnordered) }>(load(v), zero),
                )
            });
            move_mask_m256(any) != 0
        })
        .collect()
}

/// The indices of the rows that are non-zero somewhere in the batch.
fn nonzero_rows(x: &[[f32; W]], nv: usize) -> Vec<u32> {
    let live = live_rows(x, nv);
    (0..live.len() as u32)
        .filter(|&i| live[i as usize])
        .collect()
}

/// Partial dense forward over a block of reduction rows (those not all zero).
struct Forward<'a> {
    x: &'a [[f32; W]],
    w: &'a [f32],
    rows: &'a [u32],
    n_out: usize,
    nv: usize,
    y: &'a mut [[f32; W]],
}

impl Tile for Forward<'_> {
    #[inline(always)]
    fn tile<const R: usize, const C: usize>(&mut self, j0: usize, v0: usize) {
        let (n_out, nv) = (self.n_out, self.nv);
        let mut acc: [[m256; C]; R] =
            array::from_fn(|r| array::from_fn(|c| load(&self.y[(j0 + r) * nv + v0 + c])));
        for &i in self.rows {
            let i = i as usize;
            let a: &[f32; R] = self.w[i * n_out + j0..]
                .first_chunk()
                .expect("tile inside the row");
            let b: &[[f32; W]; C] = self.x[i * nv + v0..]
                .first_chunk()
                .expect("tile inside the row");
            fma_tile(&mut acc, *a, b.map(|v| load(&v)));
        }
        for (r, acc_r) in acc.iter().enumerate() {
            for (c, &acc_rc) in acc_r.iter().enumerate() {
                store(&mut self.y[(j0 + r) * nv + v0 + c], acc_rc);
            }
        }
    }
}

/// See [`crate::kernels::dense_forward`].
pub(super) fn dense_forward(x: &[f32], w: &[f32], n_out: usize, y: &mut [f32]) {
    let nv = y.len() / n_out / W;
    let x = lanes(x);
    let y = lanes_mut(y);
    y.fill([0.0; W]);
    let rows = nonzero_rows(x, nv);
    let mut blocks = rows.chunks(FORWARD_BLOCK).peekable();
    while let Some(block) = blocks.next() {
        for &i in blocks.peek().copied().unwrap_or_default() {
            prefetch(w, i as usize * n_out, n_out);
        }
        let mut op = Forward {
            x,
            w,
            rows: block,
            n_out,
            nv,
            y: &mut *y,
        };
        for_each_tile(&mut op, n_out, nv);
    }
}

/// Input gradient: reduction over the outputs `j`, for the rows listed; with a mask, lanes
/// where the mask (the layer's input) is zero get zero.
struct InputGrad<'a> {
    w: &'a [f32],
    dyt: &'a [[f32; W]],
    rows: &'a [u32],
    mask: Option<&'a [[f32; W]]>,
    n_out: usize,
    nv: usize,
    dxt: &'a mut [[f32; W]],
}

impl Tile for InputGrad<'_> {
    #[inline(always)]
    fn tile<const R: usize, const C: usize>(&mut self, r0: usize, v0: usize) {
        let (n_out, nv) = (self.n_out, self.nv);
        let rows: [usize; R] = array::from_fn(|r| self.rows[r0 + r] as usize);
        if v0 == 0 {
            for &i in self.rows.get(r0 + R..r0 + 2 * R).unwrap_or_default() {
                prefetch(self.w, i as usize * n_out, n_out);
            }
        }
        let w_rows: [&[f32]; R] = rows.map(|i| &self.w[i * n_out..][..n_out]);
        let mut acc = [[zeroed_m256(); C]; R];
        for (j, dy_row) in (0..n_out).zip(self.dyt.chunks_exact(nv)) {
            let b: &[[f32; W]; C] = dy_row[v0..].first_chunk().expect("tile inside the row");
            fma_tile(&mut acc, w_rows.map(|row| row[j]), b.map(|v| load(&v)));
        }
        let zero = zeroed_m256();
        for (&i, acc_r) in rows.iter().zip(&acc) {
            for (c, &acc_rc) in acc_r.iter().enumerate() {
                let at = i * nv + v0 + c;
                let value = match self.mask {
                    Some(x) => bitand_m256(
                        acc_rc,
                        cmp_op_mask_m256::<{ cmp_op!(NotEqualUnordered) }>(load(&x[at]), zero),
                    ),
                    None => acc_rc,
                };
                store(&mut self.dxt[at], value);
            }
        }
    }
}

/// See [`crate::kernels::dense_input_grad`].
pub(super) fn dense_input_grad(w: &[f32], dyt: &[f32], n_out: usize, dxt: &mut [f32]) {
    let nv = dyt.len() / n_out / W;
    let rows: Vec<u32> = (0..(w.len() / n_out) as u32).collect();
    let (dyt, dxt) = (lanes(dyt), lanes_mut(dxt));
    for_each_tile(
        &mut InputGrad {
            w,
            dyt,
            rows: &rows,
            mask: None,
            n_out,
            nv,
            dxt,
        },
        rows.len(),
        nv,
    );
}

/// The masked input gradient of [`crate::kernels::dense_backward_masked`]: dense tiles over the rows
/// of `x` that are not all zero, masked to the lanes where `x` is non-zero.
fn input_grad_masked(
    x: &[f32],
    rows: &[u32],
    dyt: &[f32],
    n_out: usize,
    w: &[f32],
    dx: &mut [f32],
) {
    let nv = dyt.len() / n_out / W;
    let mask = Some(lanes(x));
    // The tiles write every lane of the listed rows; the others are zero.
    let mut next = 0;
    for &i in rows
        .iter()
        .chain(std::iter::once(&((dx.len() / (nv * W)) as u32)))
    {
        dx[next * nv * W..i as usize * nv * W].fill(0.0);
        next = i as usize + 1;
    }
    let (dyt, dxt) = (lanes(dyt), lanes_mut(dx));
    let mut op = InputGrad {
        w,
        dyt,
        rows,
        mask,
        n_out,
        nv,
        dxt,
    };
    for_each_tile(&mut op, rows.len(), nv);
}

/// Weight gradient tile: reduction over the batch; input rows `rows` by `C` vectors of
/// outputs starting at vector `jv0`.
#[inline(always)]
fn weight_grad_tile<const R: usize, const C: usize>(
    x: &[f32],
    dy: &[f32],
    n_out: usize,
    rows: [usize; R],
    jv0: usize,
) -> [[m256; C]; R] {
    let bp = dy.len() / n_out;
    let x_rows: [&[f32]; R] = rows.map(|i| &x[i * bp..][..bp]);
    let mut acc = [[zeroed_m256(); C]; R];
    for (b, dy_row) in (0..bp).zip(dy.chunks_exact(n_out)) {
        fma_tile(
            &mut acc,
            x_rows.map(|row| row[b]),
            vectors::<C>(dy_row, jv0 * W),
        );
    }
    acc
}

/// Gradient of the columns past the last whole vector (`n_out % 8` of them) of row `i`,
/// padded to a vector; the plain and the fused kernel share it so they agree bit for bit.
fn weight_grad_tail(x: &[f32], dy: &[f32], bp: usize, n_out: usize, i: usize) -> [f32; W] {
    let first = n_out / W * W;
    let mut g = [0.0; W];
    for (&xv, dy_row) in x[i * bp..][..bp].iter().zip(dy.chunks_exact(n_out)) {
        for (gj, &d) in g.iter_mut().zip(&dy_row[first..]) {
            *gj = xv.mul_add(d, *gj);
        }
    }
    g
}

/// Weight gradient tiles over the rows listed (the others' gradient is zero).
struct WeightGrad<'a> {
    x: &'a [f32],
    dy: &'a [f32],
    rows: &'a [u32],
    n_out: usize,
    g: &'a mut [f32],
}

impl Tile for WeightGrad<'_> {
    #[inline(always)]
    fn tile<const R: usize, const C: usize>(&mut self, r0: usize, jv0: usize) {
        let rows: [usize; R] = array::from_fn(|r| self.rows[r0 + r] as usize);
        let acc = weight_grad_tile::<R, C>(self.x, self.dy, self.n_out, rows, jv0);
        for (&i, acc_r) in rows.iter().zip(&acc) {
            let at = i * self.n_out + jv0 * W;
            for (g, &acc_rc) in self.g[at..at + C * W]
                .as_chunks_mut::<W>()
                .0
                .iter_mut()
                .zip(acc_r)
            {
                store(g, acc_rc);
            }
        }
    }
}

/// See [`crate::kernels::dense_weight_grad`].
pub(super) fn dense_weight_grad(x: &[f32], dy: &[f32], n_out: usize, g: &mut [f32]) {
    let bp = dy.len() / n_out;
    let rows = nonzero_rows(lanes(x), bp / W);
    g.fill(0.0);
    for_each_tile(
        &mut WeightGrad {
            x,
            dy,
            rows: &rows,
            n_out,
            g: &mut *g,
        },
        rows.len(),
        n_out / W,
    );
    let first = n_out / W * W;
    if first < n_out {
        for &i in &rows {
            let i = i as usize;
            let tail = weight_grad_tail(x, dy, bp, n_out, i);
            g[i * n_out + first..(i + 1) * n_out].copy_from_slice(&tail[..n_out - first]);
        }
    }
}

/// Weight gradient tiles over the rows listed, applied by Adam as soon as they are
/// complete; the rows in between (zero gradient) get their Adam step on the way, so the
/// weights and moments are visited once, in order.
struct WeightGradAdam<'a> {
    x: &'a [f32],
    dy: &'a [f32],
    rows: &'a [u32],
    n_out: usize,
    w: &'a mut [f32],
    m: &'a mut [f32],
    v: &'a mut [f32],
    adam: AdamVec,
    /// First row not yet updated.
    next: usize,
}

impl WeightGradAdam<'_> {
    /// Adam steps with a zero gradient for rows `self.next..end`.
    fn zero_gradient_until(&mut self, end: usize) {
        if end > self.next {
            let span = self.next * self.n_out..end * self.n_out;
            let w = self.w[span.clone()].as_chunks_mut::<W>();
            let m = self.m[span.clone()].as_chunks_mut::<W>();
            let v = self.v[span].as_chunks_mut::<W>();
            let zero = zeroed_m256();
            for ((w, m), v) in w.0.iter_mut().zip(m.0.iter_mut()).zip(v.0.iter_mut()) {
                self.adam.apply(w, m, v, zero);
            }
            if !w.1.is_empty() {
                self.adam.apply_partial(w.1, m.1, v.1, [0.0; W]);
            }
            self.next = end;
        }
    }
}

impl Tile for WeightGradAdam<'_> {
    #[inline(always)]
    fn tile<const R: usize, const C: usize>(&mut self, r0: usize, jv0: usize) {
        let rows: [usize; R] = array::from_fn(|r| self.rows[r0 + r] as usize);
        if jv0 == 0 {
            let n_out = self.n_out;
            for &i in self.rows.get(r0 + R..r0 + 2 * R).unwrap_or_default() {
                let at = i as usize * n_out;
                prefetch(self.w, at, n_out);
                prefetch(self.m, at, n_out);
                prefetch(self.v, at, n_out);
            }
            // The dead rows before and between this tile's rows.
            for &i in &rows {
                self.zero_gradient_until(i);
                self.next = i + 1;
            }
        }
        let acc = weight_grad_tile::<R, C>(self.x, self.dy, self.n_out, rows, jv0);
        for (&i, acc_r) in rows.iter().zip(&acc) {
            let at = i * self.n_out + jv0 * W;
            let w = self.w[at..at + C * W].as_chunks_mut::<W>().0;
            let m = self.m[at..at + C * W].as_chunks_mut::<W>().0;
            let v = self.v[at..at + C * W].as_chunks_mut::<W>().0;
            for (((w, m), v), &g) in w.iter_mut().zip(m.iter_mut()).zip(v.iter_mut()).zip(acc_r) {
                self.adam.apply(w, m, v, g);
            }
        }
    }
}

/// See [`crate::kernels::dense_backward_masked`].
pub(super) fn dense_backward_masked(
    x: &[f32],
    dy: &[f32],
    dyt: &[f32],
    n_out: usize,
    w: &[f32],
    dx: &mut [f32],
    g: &mut [f32],
) {
    let rows = nonzero_rows(lanes(x), dy.len() / n_out / W);
    input_grad_masked(x, &rows, dyt, n_out, w, dx);
    dense_weight_grad(x, dy, n_out, g);
}

/// See [`crate::kernels::dense_backward_masked_adam`].
#[allow(clippy::too_many_arguments)]
pub(super) fn dense_backward_masked_adam(
    x: &[f32],
    dy: &[f32],
    dyt: &[f32],
    n_out: usize,
    w: &mut [f32],
    m: &mut [f32],
    v: &mut [f32],
    step: AdamStep,
    dx: &mut [f32],
) {
    let bp = dy.len() / n_out;
    let rows = nonzero_rows(lanes(x), bp / W);
    // The input gradient reads the weights before this step's update.
    input_grad_masked(x, &rows, dyt, n_out, w, dx);
    let first = n_out / W * W;
    if first < n_out {
        // Rows with a column tail: the plain kernel and Adam, which the fused path equals.
        let mut g = vec![0.0; w.len()];
        dense_weight_grad(x, dy, n_out, &mut g);
        return adam_update(w, m, v, &g, step);
    }
    let all = w.len() / n_out;
    let mut op = WeightGradAdam {
        x,
        dy,
        rows: &rows,
        n_out,
        w,
        m,
        v,
        adam: AdamVec::new(step),
        next: 0,
    };
    for_each_tile(&mut op, rows.len(), n_out / W);
    op.zero_gradient_until(all);
}
