//! AVX2/FMA kernels through `safe_arch`, compiled only when the build enables both features.
//!
//! Each function computes what its namesake in [`super::scalar`] computes (the property
//! tests in `tests/kernels.rs` hold them to it, exactly, on integer-valued inputs); only
//! the rounding differs, because products are fused into their sums.
//!
//! The three dense kernels are one shape of computation: a register tile of up to 3 rows
//! by 4 vectors (12 accumulators, 3 broadcasts, one streaming load: all 16 ymm registers)
//! accumulates `a[k][r] * b[k][c]` over a reduction index `k`. Only where `a` and `b`
//! come from differs, so each kernel is a [`Tile`] implementation and [`for_each_tile`]
//! walks the output in such tiles.

use super::AdamStep;
use picocnn::shape::{
    CONV_SIDE, FILTERS, IMAGE_PIXELS, IMAGE_SIDE, KERNEL_SIDE, KERNEL_TAPS, POOL_SIDE,
};
use safe_arch::{
    add_m256, bitand_m256, bitandnot_m256, blend_varying_m256, cmp_op, cmp_op_mask_m256, div_m256,
    fused_mul_add_m256, load_unaligned_m256, m256, max_m256, mul_m256, set_splat_m256, sqrt_m256,
    store_unaligned_m256, sub_m256, zeroed_m256,
};
use std::array;

/// Floats per vector.
const W: usize = 8;
/// Rows of a tile.
const TILE_ROWS: usize = 3;
/// Vectors of a tile.
const TILE_VECS: usize = 4;
/// Reduction rows per block in [`dense_forward`]: the block's weights (48 x 128) and
/// inputs (48 x 32 images) take 30 KiB and stay in L1 while every output tile sweeps them.
const FORWARD_BLOCK: usize = 48;

/// Pixel offsets of the 3x3 window's taps from its top-left pixel, in tap order.
const TAP_OFFSETS: [usize; KERNEL_TAPS] = {
    let mut offsets = [0; KERNEL_TAPS];
    let mut k = 0;
    while k < KERNEL_TAPS {
        offsets[k] = (k / KERNEL_SIDE) * IMAGE_SIDE + k % KERNEL_SIDE;
        k += 1;
    }
    offsets
};

#[inline(always)]
fn load(a: &[f32; W]) -> m256 {
    load_unaligned_m256(a)
}

#[inline(always)]
fn store(a: &mut [f32; W], v: m256) {
    store_unaligned_m256(a, v);
}

#[inline(always)]
fn splat(x: f32) -> m256 {
    set_splat_m256(x)
}

#[inline(always)]
fn fma(a: m256, b: m256, c: m256) -> m256 {
    fused_mul_add_m256(a, b, c)
}

/// Views a batch-padded buffer as vectors (its length is a multiple of [`W`]).
fn lanes(s: &[f32]) -> &[[f32; W]] {
    s.as_chunks::<W>().0
}

fn lanes_mut(s: &mut [f32]) -> &mut [[f32; W]] {
    s.as_chunks_mut::<W>().0
}

/// The `C` vectors starting at float `at` of `s` (unaligned, any offset).
#[inline(always)]
fn vectors<const C: usize>(s: &[f32], at: usize) -> [m256; C] {
    let run: &[f32] = &s[at..at + C * W];
    array::from_fn(|c| load(run[c * W..].first_chunk().expect("run holds C vectors")))
}

/// The sum of a vector's lanes, always in the same order.
fn sum_lanes(v: m256) -> f32 {
    v.to_array().iter().sum()
}

/// `acc[r][c] += a[r] * b[c]`: one reduction step of a tile.
#[inline(always)]
fn fma_tile<const R: usize, const C: usize>(acc: &mut [[m256; C]; R], a: [f32; R], b: [m256; C]) {
    let a = a.map(splat);
    for (c, &bc) in b.iter().enumerate() {
        for (acc_r, &ar) in acc.iter_mut().zip(&a) {
            acc_r[c] = fma(ar, bc, acc_r[c]);
        }
    }
}

/// One kernel's tile computation: output rows `r0..r0 + R`, vectors `c0..c0 + C`.
trait Tile {
    fn tile<const R: usize, const C: usize>(&mut self, r0: usize, c0: usize);
}

/// Walks `rows x vecs` in tiles of at most [`TILE_ROWS`] x [`TILE_VECS`], tails included.
fn for_each_tile<T: Tile>(op: &mut T, rows: usize, vecs: usize) {
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

/// Top-left input pixel of convolution output position `position`.
fn conv_corner(position: usize) -> usize {
    position / CONV_SIDE * IMAGE_SIDE + position % CONV_SIDE
}

/// Top-left input pixel of the 4x4 pixel block under pooled position `position`.
fn pool_corner(position: usize) -> usize {
    2 * (position / POOL_SIDE) * IMAGE_SIDE + 2 * (position % POOL_SIDE)
}

/// Pixel offsets of a 4x4 block's pixels from its corner, row by row.
const BLOCK_OFFSETS: [usize; 16] = {
    let mut offsets = [0; 16];
    let mut q = 0;
    while q < 16 {
        offsets[q] = (q / 4) * IMAGE_SIDE + q % 4;
        q += 1;
    }
    offsets
};

/// For pooling window element `k` (top-left, top-right, bottom-left, bottom-right) and
/// tap `t`, the index of its pixel in the 4x4 block.
const WINDOW_TAPS: [[usize; KERNEL_TAPS]; 4] = {
    let mut taps = [[0; KERNEL_TAPS]; 4];
    let mut k = 0;
    while k < 4 {
        let mut t = 0;
        while t < KERNEL_TAPS {
            taps[k][t] = (k / 2 + t / KERNEL_SIDE) * 4 + k % 2 + t % KERNEL_SIDE;
            t += 1;
        }
        k += 1;
    }
    taps
};

/// The convolution weights and biases broadcast to vectors, once per call.
fn broadcast_filters(w: &[f32], b: &[f32]) -> (Vec<[m256; KERNEL_TAPS]>, Vec<m256>) {
    let wv = w
        .chunks_exact(KERNEL_TAPS)
        .map(|wf| array::from_fn(|k| splat(wf[k])))
        .collect();
    (wv, b.iter().map(|&bf| splat(bf)).collect())
}

/// See [`super::conv_forward`].
pub fn conv_forward(pixels: &[f32], w: &[f32], b: &[f32], first: usize, out: &mut [f32]) {
    let nv = pixels.len() / IMAGE_PIXELS / W;
    let px = lanes(pixels);
    let (wv, bv) = broadcast_filters(w, b);
    let zero = zeroed_m256();
    for (p, out_pos) in lanes_mut(out).chunks_exact_mut(FILTERS * nv).enumerate() {
        let corner = conv_corner(first + p);
        for lane in 0..nv {
            let taps: [m256; KERNEL_TAPS] =
                array::from_fn(|k| load(&px[(corner + TAP_OFFSETS[k]) * nv + lane]));
            for ((out_f, wf), &bf) in out_pos.chunks_exact_mut(nv).zip(&wv).zip(&bv) {
                let mut acc = bf;
                for (&wk, &tk) in wf.iter().zip(&taps) {
                    acc = fma(wk, tk, acc);
                }
                store(&mut out_f[lane], max_m256(acc, zero));
            }
        }
    }
}

/// See [`super::conv_backward`].
pub fn conv_backward(pixels: &[f32], first: usize, out: &[f32], grad: &[f32], dw: &mut [f32]) {
    let nv = pixels.len() / IMAGE_PIXELS / W;
    let px = lanes(pixels);
    let (out, grad) = (lanes(out), lanes(grad));
    let positions = out.len() / (FILTERS * nv);
    let zero = zeroed_m256();
    let (dw_taps, db) = dw.split_at_mut(FILTERS * KERNEL_TAPS);
    // Filter by filter, so the nine tap sums and the bias sum stay in registers.
    for (f, (dwf, dbf)) in dw_taps
        .chunks_exact_mut(KERNEL_TAPS)
        .zip(db.iter_mut())
        .enumerate()
    {
        let mut acc_taps = [zero; KERNEL_TAPS];
        let mut acc_bias = zero;
        for p in 0..positions {
            let corner = conv_corner(first + p);
            let at = (p * FILTERS + f) * nv;
            for (lane, (o, g)) in out[at..at + nv].iter().zip(&grad[at..at + nv]).enumerate() {
                let positive = cmp_op_mask_m256::<{ cmp_op!(GreaterThanOrdered) }>(load(o), zero);
                let g = bitand_m256(load(g), positive);
                acc_bias = add_m256(acc_bias, g);
                for (acc, &offset) in acc_taps.iter_mut().zip(&TAP_OFFSETS) {
                    *acc = fma(g, load(&px[(corner + offset) * nv + lane]), *acc);
                }
            }
        }
        for (d, &acc) in dwf.iter_mut().zip(&acc_taps) {
            *d = sum_lanes(acc);
        }
        *dbf = sum_lanes(acc_bias);
    }
}

/// See [`super::conv_pool_forward`].
pub fn conv_pool_forward(
    pixels: &[f32],
    w: &[f32],
    b: &[f32],
    first: usize,
    pooled: &mut [f32],
    argmax: &mut [f32],
) {
    let nv = pixels.len() / IMAGE_PIXELS / W;
    let px = lanes(pixels);
    let (wv, bv) = broadcast_filters(w, b);
    let zero = zeroed_m256();
    let window_index: [m256; 4] = array::from_fn(|k| splat(k as f32));
    let positions = lanes_mut(pooled)
        .chunks_exact_mut(FILTERS * nv)
        .zip(lanes_mut(argmax).chunks_exact_mut(FILTERS * nv));
    for (p, (pooled_pos, argmax_pos)) in positions.enumerate() {
        let corner = pool_corner(first + p);
        for lane in 0..nv {
            let block: [m256; 16] =
                array::from_fn(|q| load(&px[(corner + BLOCK_OFFSETS[q]) * nv + lane]));
            let filters = pooled_pos
                .chunks_exact_mut(nv)
                .zip(argmax_pos.chunks_exact_mut(nv));
            for ((pooled_f, argmax_f), (wf, &bf)) in filters.zip(wv.iter().zip(&bv)) {
                let conv: [m256; 4] = array::from_fn(|k| {
                    let mut acc = bf;
                    for (&wk, &q) in wf.iter().zip(&WINDOW_TAPS[k]) {
                        acc = fma(wk, block[q], acc);
                    }
                    max_m256(acc, zero)
                });
                // Strictly greater replaces, so ties keep the earlier element.
                let mut best = conv[0];
                let mut arg = window_index[0];
                for (&c, &k) in conv.iter().zip(&window_index).skip(1) {
                    let greater = cmp_op_mask_m256::<{ cmp_op!(GreaterThanOrdered) }>(c, best);
                    best = blend_varying_m256(best, c, greater);
                    arg = blend_varying_m256(arg, k, greater);
                }
                store(&mut pooled_f[lane], best);
                store(&mut argmax_f[lane], arg);
            }
        }
    }
}

/// See [`super::conv_pool_backward`].
pub fn conv_pool_backward(
    pixels: &[f32],
    first: usize,
    pooled: &[f32],
    argmax: &[f32],
    grad: &[f32],
    dw: &mut [f32],
) {
    let nv = pixels.len() / IMAGE_PIXELS / W;
    let px = lanes(pixels);
    let (pooled, argmax, grad) = (lanes(pooled), lanes(argmax), lanes(grad));
    let positions = pooled.len() / (FILTERS * nv);
    let zero = zeroed_m256();
    let window_index: [m256; 4] = array::from_fn(|k| splat(k as f32));
    let (dw_taps, db) = dw.split_at_mut(FILTERS * KERNEL_TAPS);
    for (f, (dwf, dbf)) in dw_taps
        .chunks_exact_mut(KERNEL_TAPS)
        .zip(db.iter_mut())
        .enumerate()
    {
        let mut acc_taps = [zero; KERNEL_TAPS];
        let mut acc_bias = zero;
        for p in 0..positions {
            let corner = pool_corner(first + p);
            let at = (p * FILTERS + f) * nv;
            let lanes = pooled[at..at + nv]
                .iter()
                .zip(&argmax[at..at + nv])
                .zip(&grad[at..at + nv]);
            for (lane, ((m, a), g)) in lanes.enumerate() {
                let positive = cmp_op_mask_m256::<{ cmp_op!(GreaterThanOrdered) }>(load(m), zero);
                let g = bitand_m256(load(g), positive);
                acc_bias = add_m256(acc_bias, g);
                let a = load(a);
                for (taps, &k) in WINDOW_TAPS.iter().zip(&window_index) {
                    let g_k = bitand_m256(g, cmp_op_mask_m256::<{ cmp_op!(EqualOrdered) }>(a, k));
                    for (acc, &q) in acc_taps.iter_mut().zip(taps) {
                        *acc = fma(
                            g_k,
                            load(&px[(corner + BLOCK_OFFSETS[q]) * nv + lane]),
                            *acc,
                        );
                    }
                }
            }
        }
        for (d, &acc) in dwf.iter_mut().zip(&acc_taps) {
            *d = sum_lanes(acc);
        }
        *dbf = sum_lanes(acc_bias);
    }
}

/// Partial dense forward over one block of reduction rows.
struct Forward<'a> {
    x: &'a [[f32; W]],
    w: &'a [f32],
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
        for (w_row, x_row) in self.w.chunks_exact(n_out).zip(self.x.chunks_exact(nv)) {
            let a: &[f32; R] = w_row[j0..].first_chunk().expect("tile inside the row");
            let b: &[[f32; W]; C] = x_row[v0..].first_chunk().expect("tile inside the row");
            fma_tile(&mut acc, *a, b.map(|v| load(&v)));
        }
        for (r, acc_r) in acc.iter().enumerate() {
            for (c, &acc_rc) in acc_r.iter().enumerate() {
                store(&mut self.y[(j0 + r) * nv + v0 + c], acc_rc);
            }
        }
    }
}

/// See [`super::dense_forward`].
pub fn dense_forward(x: &[f32], w: &[f32], n_out: usize, y: &mut [f32]) {
    let nv = y.len() / n_out / W;
    let y = lanes_mut(y);
    y.fill([0.0; W]);
    for (x, w) in lanes(x)
        .chunks(FORWARD_BLOCK * nv)
        .zip(w.chunks(FORWARD_BLOCK * n_out))
    {
        for_each_tile(
            &mut Forward {
                x,
                w,
                n_out,
                nv,
                y: &mut *y,
            },
            n_out,
            nv,
        );
    }
}

/// Input gradient: reduction over the outputs `j`.
struct InputGrad<'a> {
    w: &'a [f32],
    dyt: &'a [[f32; W]],
    n_out: usize,
    nv: usize,
    dxt: &'a mut [[f32; W]],
}

impl Tile for InputGrad<'_> {
    #[inline(always)]
    fn tile<const R: usize, const C: usize>(&mut self, i0: usize, v0: usize) {
        let (n_out, nv) = (self.n_out, self.nv);
        let w_rows: [&[f32]; R] = array::from_fn(|r| &self.w[(i0 + r) * n_out..][..n_out]);
        let mut acc = [[zeroed_m256(); C]; R];
        for (j, dy_row) in (0..n_out).zip(self.dyt.chunks_exact(nv)) {
            let b: &[[f32; W]; C] = dy_row[v0..].first_chunk().expect("tile inside the row");
            fma_tile(&mut acc, w_rows.map(|row| row[j]), b.map(|v| load(&v)));
        }
        for (r, acc_r) in acc.iter().enumerate() {
            for (c, &acc_rc) in acc_r.iter().enumerate() {
                store(&mut self.dxt[(i0 + r) * nv + v0 + c], acc_rc);
            }
        }
    }
}

/// See [`super::dense_input_grad`].
pub fn dense_input_grad(w: &[f32], dyt: &[f32], n_out: usize, dxt: &mut [f32]) {
    let nv = dyt.len() / n_out / W;
    let rows = w.len() / n_out;
    for_each_tile(
        &mut InputGrad {
            w,
            dyt: lanes(dyt),
            n_out,
            nv,
            dxt: lanes_mut(dxt),
        },
        rows,
        nv,
    );
}

/// Weight gradient tile: reduction over the batch; `R` input rows by `C` vectors of outputs.
#[inline(always)]
fn weight_grad_tile<const R: usize, const C: usize>(
    x: &[f32],
    dy: &[f32],
    bp: usize,
    n_out: usize,
    i0: usize,
    jv0: usize,
) -> [[m256; C]; R] {
    let x_rows: [&[f32]; R] = array::from_fn(|r| &x[(i0 + r) * bp..][..bp]);
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

struct WeightGrad<'a> {
    x: &'a [f32],
    dy: &'a [f32],
    bp: usize,
    n_out: usize,
    g: &'a mut [f32],
}

impl Tile for WeightGrad<'_> {
    #[inline(always)]
    fn tile<const R: usize, const C: usize>(&mut self, i0: usize, jv0: usize) {
        let acc = weight_grad_tile::<R, C>(self.x, self.dy, self.bp, self.n_out, i0, jv0);
        for (r, acc_r) in acc.iter().enumerate() {
            let at = (i0 + r) * self.n_out + jv0 * W;
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

/// See [`super::dense_weight_grad`].
pub fn dense_weight_grad(x: &[f32], dy: &[f32], n_out: usize, g: &mut [f32]) {
    let bp = dy.len() / n_out;
    let rows = x.len() / bp;
    for_each_tile(
        &mut WeightGrad {
            x,
            dy,
            bp,
            n_out,
            g: &mut *g,
        },
        rows,
        n_out / W,
    );
    let first = n_out / W * W;
    if first < n_out {
        for (i, g_row) in g.chunks_exact_mut(n_out).enumerate() {
            let tail = weight_grad_tail(x, dy, bp, n_out, i);
            g_row[first..].copy_from_slice(&tail[..n_out - first]);
        }
    }
}

/// Adam's constants as vectors.
#[derive(Clone, Copy)]
struct AdamVec {
    alpha: m256,
    one_minus_beta1: m256,
    one_minus_beta2: m256,
    epsilon: m256,
    min_normal: m256,
    sign: m256,
    /// Smallest `|m|` whose product with `alpha` is normal.
    numerator_floor: m256,
}

impl AdamVec {
    fn new(step: AdamStep) -> Self {
        AdamVec {
            alpha: splat(step.alpha),
            one_minus_beta1: splat(step.one_minus_beta1),
            one_minus_beta2: splat(step.one_minus_beta2),
            epsilon: splat(step.epsilon),
            min_normal: splat(f32::MIN_POSITIVE),
            sign: splat(-0.0),
            numerator_floor: splat(step.numerator_floor()),
        }
    }

    /// `x`, with lanes whose magnitude is below `floor` replaced by zero (NaN stays NaN).
    #[inline(always)]
    fn zero_below(self, x: m256, floor: m256) -> m256 {
        let magnitude = bitandnot_m256(self.sign, x);
        bitand_m256(
            x,
            cmp_op_mask_m256::<{ cmp_op!(NotLessThanUnordered) }>(magnitude, floor),
        )
    }

    /// `x`, with subnormal lanes replaced by zero.
    #[inline(always)]
    fn flush(self, x: m256) -> m256 {
        self.zero_below(x, self.min_normal)
    }

    /// One Adam step on eight parameters in place.
    #[inline(always)]
    fn apply(self, w: &mut [f32; W], m: &mut [f32; W], v: &mut [f32; W], g: m256) {
        let m_new = self.flush(fma(sub_m256(g, load(m)), self.one_minus_beta1, load(m)));
        let g2_minus_v = sub_m256(mul_m256(g, g), load(v));
        let v_new = self.flush(fma(g2_minus_v, self.one_minus_beta2, load(v)));
        let m_kept = self.zero_below(m_new, self.numerator_floor);
        let denominator = add_m256(sqrt_m256(v_new), self.epsilon);
        let update = div_m256(mul_m256(m_kept, self.alpha), denominator);
        store(w, self.flush(sub_m256(load(w), update)));
        store(m, m_new);
        store(v, v_new);
    }

    /// [`AdamVec::apply`] on fewer than eight parameters, padded to a vector.
    fn apply_partial(self, w: &mut [f32], m: &mut [f32], v: &mut [f32], g: [f32; W]) {
        let n = w.len();
        let mut pad = [[0.0; W]; 3];
        pad[0][..n].copy_from_slice(w);
        pad[1][..n].copy_from_slice(m);
        pad[2][..n].copy_from_slice(v);
        let [pw, pm, pv] = &mut pad;
        self.apply(pw, pm, pv, load(&g));
        w.copy_from_slice(&pw[..n]);
        m.copy_from_slice(&pm[..n]);
        v.copy_from_slice(&pv[..n]);
    }
}

struct WeightGradAdam<'a> {
    x: &'a [f32],
    dy: &'a [f32],
    bp: usize,
    n_out: usize,
    w: &'a mut [f32],
    m: &'a mut [f32],
    v: &'a mut [f32],
    adam: AdamVec,
}

impl Tile for WeightGradAdam<'_> {
    #[inline(always)]
    fn tile<const R: usize, const C: usize>(&mut self, i0: usize, jv0: usize) {
        let acc = weight_grad_tile::<R, C>(self.x, self.dy, self.bp, self.n_out, i0, jv0);
        for (r, acc_r) in acc.iter().enumerate() {
            let at = (i0 + r) * self.n_out + jv0 * W;
            let w = self.w[at..at + C * W].as_chunks_mut::<W>().0;
            let m = self.m[at..at + C * W].as_chunks_mut::<W>().0;
            let v = self.v[at..at + C * W].as_chunks_mut::<W>().0;
            for (((w, m), v), &g) in w.iter_mut().zip(m.iter_mut()).zip(v.iter_mut()).zip(acc_r) {
                self.adam.apply(w, m, v, g);
            }
        }
    }
}

/// See [`super::dense_weight_grad_adam`].
pub fn dense_weight_grad_adam(
    x: &[f32],
    dy: &[f32],
    n_out: usize,
    w: &mut [f32],
    m: &mut [f32],
    v: &mut [f32],
    step: AdamStep,
) {
    let bp = dy.len() / n_out;
    let rows = x.len() / bp;
    let adam = AdamVec::new(step);
    for_each_tile(
        &mut WeightGradAdam {
            x,
            dy,
            bp,
            n_out,
            w: &mut *w,
            m: &mut *m,
            v: &mut *v,
            adam,
        },
        rows,
        n_out / W,
    );
    let first = n_out / W * W;
    if first < n_out {
        let rows = w
            .chunks_exact_mut(n_out)
            .zip(m.chunks_exact_mut(n_out))
            .zip(v.chunks_exact_mut(n_out));
        for (i, ((w_row, m_row), v_row)) in rows.enumerate() {
            let tail = weight_grad_tail(x, dy, bp, n_out, i);
            adam.apply_partial(
                &mut w_row[first..],
                &mut m_row[first..],
                &mut v_row[first..],
                tail,
            );
        }
    }
}

/// See [`super::adam_update`].
pub fn adam_update(w: &mut [f32], m: &mut [f32], v: &mut [f32], g: &[f32], step: AdamStep) {
    let adam = AdamVec::new(step);
    let (w_body, w_tail) = w.as_chunks_mut::<W>();
    let (m_body, m_tail) = m.as_chunks_mut::<W>();
    let (v_body, v_tail) = v.as_chunks_mut::<W>();
    let (g_body, g_tail) = g.as_chunks::<W>();
    for (((w, m), v), g) in w_body
        .iter_mut()
        .zip(m_body.iter_mut())
        .zip(v_body.iter_mut())
        .zip(g_body)
    {
        adam.apply(w, m, v, load(g));
    }
    if !w_tail.is_empty() {
        let mut g = [0.0; W];
        g[..g_tail.len()].copy_from_slice(g_tail);
        adam.apply_partial(w_tail, m_tail, v_tail, g);
    }
}
