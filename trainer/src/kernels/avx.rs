//! AVX2/FMA kernels through `safe_arch`, compiled only when the build enables both features.
//!
//! Each function computes what its namesake in [`super::scalar`] computes (the property
//! tests in `tests/kernels.rs` hold them to it, exactly, on integer-valued inputs); only
//! the rounding differs, because products are fused into their sums. Adam is the
//! exception: it rounds step by step like the scalar kernel and agrees with it bit for bit.
//!
//! The dense kernels are one shape of computation: a register tile of up to 3 rows by 4
//! vectors (12 accumulators, 3 broadcasts, one streaming load: all 16 ymm registers)
//! accumulates `a[k][r] * b[k][c]` over a reduction index `k`. Only where `a` and `b`
//! come from differs, so each kernel is a [`Tile`] implementation and [`for_each_tile`]
//! walks the output in such tiles. Input rows that are zero for the whole batch are left
//! out of the tiles (listed once by `nonzero_rows`), which changes no bit of any sum.

use super::AdamStep;
use super::geometry::{
    BLOCK_OFFSETS, BLOCK_PIXELS, TAP_OFFSETS, WINDOW, WINDOW_TAPS, conv_corner, pool_corner,
};
use picocnn::shape::{FILTERS, IMAGE_PIXELS, KERNEL_TAPS};
use safe_arch::{
    add_m256, bitand_m256, bitandnot_m256, bitor_m256, blend_varying_m256, cmp_op,
    cmp_op_mask_m256, div_m256, fused_mul_add_m256, load_unaligned_m256, m256, max_m256,
    move_mask_m256, mul_m256, prefetch_t0, set_splat_m256, sqrt_m256, store_unaligned_m256,
    sub_m256, zeroed_m256,
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
    let window_index: [m256; WINDOW] = array::from_fn(|k| splat(k as f32));
    let positions = lanes_mut(pooled)
        .chunks_exact_mut(FILTERS * nv)
        .zip(lanes_mut(argmax).chunks_exact_mut(FILTERS * nv));
    for (p, (pooled_pos, argmax_pos)) in positions.enumerate() {
        let corner = pool_corner(first + p);
        for lane in 0..nv {
            let block: [m256; BLOCK_PIXELS] =
                array::from_fn(|q| load(&px[(corner + BLOCK_OFFSETS[q]) * nv + lane]));
            let filters = pooled_pos
                .chunks_exact_mut(nv)
                .zip(argmax_pos.chunks_exact_mut(nv));
            for ((pooled_f, argmax_f), (wf, &bf)) in filters.zip(wv.iter().zip(&bv)) {
                let conv: [m256; WINDOW] = array::from_fn(|k| {
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
    let window_index: [m256; WINDOW] = array::from_fn(|k| splat(k as f32));
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

/// See [`super::dense_forward`].
pub fn dense_forward(x: &[f32], w: &[f32], n_out: usize, y: &mut [f32]) {
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

/// See [`super::dense_input_grad`].
pub fn dense_input_grad(w: &[f32], dyt: &[f32], n_out: usize, dxt: &mut [f32]) {
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

/// The masked input gradient of [`super::dense_backward_sparse`]: dense tiles over the rows
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

/// See [`super::dense_weight_grad`].
pub fn dense_weight_grad(x: &[f32], dy: &[f32], n_out: usize, g: &mut [f32]) {
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
        // Separate multiply and add (no FMA), rounding exactly as the scalar kernel does:
        // this pass is bound by memory, not arithmetic.
        let m_new = self.flush(add_m256(
            load(m),
            mul_m256(sub_m256(g, load(m)), self.one_minus_beta1),
        ));
        let g2_minus_v = sub_m256(mul_m256(g, g), load(v));
        let v_new = self.flush(add_m256(
            load(v),
            mul_m256(g2_minus_v, self.one_minus_beta2),
        ));
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

/// See [`super::dense_backward_masked`].
pub fn dense_backward_masked(
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

/// See [`super::dense_backward_masked_adam`].
#[allow(clippy::too_many_arguments)]
pub fn dense_backward_masked_adam(
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
