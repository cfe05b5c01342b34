//! Reference kernels: plain loops, compiled on every target.
//!
//! They define what each kernel computes (see the dispatch functions in [`super`] for the
//! contracts) and run in portable builds. Loops keep the batch innermost so the compiler
//! can vectorize them for whatever the target offers. Shapes are checked by the caller.

use super::AdamStep;
use super::geometry::{TAP_OFFSETS, WINDOW_OFFSETS, conv_corner, pool_corner};
use picocnn::shape::{FILTERS, IMAGE_PIXELS, KERNEL_TAPS};

/// `bias + sum_k w[k] * pixel(corner + tap k)` for every lane.
fn conv_lanes(pixels: &[f32], bp: usize, corner: usize, wf: &[f32], bias: f32, out: &mut [f32]) {
    out.fill(bias);
    for (&offset, &wk) in TAP_OFFSETS.iter().zip(wf) {
        let tap = &pixels[(corner + offset) * bp..][..bp];
        for (o, &p) in out.iter_mut().zip(tap) {
            *o += wk * p;
        }
    }
}

/// `dw[k] += sum_lanes g * pixel(corner + tap k)`.
fn accumulate_taps(pixels: &[f32], bp: usize, corner: usize, g: &[f32], dw: &mut [f32]) {
    for (&offset, dwk) in TAP_OFFSETS.iter().zip(dw.iter_mut()) {
        let tap = &pixels[(corner + offset) * bp..][..bp];
        *dwk += g.iter().zip(tap).map(|(&g, &p)| g * p).sum::<f32>();
    }
}

/// See [`super::conv_forward`].
pub fn conv_forward(pixels: &[f32], w: &[f32], b: &[f32], first: usize, out: &mut [f32]) {
    let bp = pixels.len() / IMAGE_PIXELS;
    for (p, out_pos) in out.chunks_exact_mut(FILTERS * bp).enumerate() {
        let corner = conv_corner(first + p);
        for ((out_f, wf), &bias) in out_pos
            .chunks_exact_mut(bp)
            .zip(w.chunks_exact(KERNEL_TAPS))
            .zip(b)
        {
            conv_lanes(pixels, bp, corner, wf, bias, out_f);
            for o in out_f.iter_mut() {
                *o = o.max(0.0);
            }
        }
    }
}

/// See [`super::conv_backward`].
pub fn conv_backward(pixels: &[f32], first: usize, out: &[f32], grad: &[f32], dw: &mut [f32]) {
    let bp = pixels.len() / IMAGE_PIXELS;
    let (dw_taps, db) = dw.split_at_mut(FILTERS * KERNEL_TAPS);
    dw_taps.fill(0.0);
    db.fill(0.0);
    let mut masked = vec![0.0f32; bp];
    let positions = out
        .chunks_exact(FILTERS * bp)
        .zip(grad.chunks_exact(FILTERS * bp));
    for (p, (out_pos, grad_pos)) in positions.enumerate() {
        let corner = conv_corner(first + p);
        let filters = out_pos.chunks_exact(bp).zip(grad_pos.chunks_exact(bp));
        for (((out_f, grad_f), dwf), dbf) in filters
            .zip(dw_taps.chunks_exact_mut(KERNEL_TAPS))
            .zip(db.iter_mut())
        {
            for ((mg, &o), &g) in masked.iter_mut().zip(out_f).zip(grad_f) {
                *mg = if o > 0.0 { g } else { 0.0 };
            }
            *dbf += masked.iter().sum::<f32>();
            accumulate_taps(pixels, bp, corner, &masked, dwf);
        }
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
    let bp = pixels.len() / IMAGE_PIXELS;
    let mut window = vec![0.0f32; bp];
    let positions = pooled
        .chunks_exact_mut(FILTERS * bp)
        .zip(argmax.chunks_exact_mut(FILTERS * bp));
    for (p, (pooled_pos, argmax_pos)) in positions.enumerate() {
        let corner = pool_corner(first + p);
        let filters = pooled_pos
            .chunks_exact_mut(bp)
            .zip(argmax_pos.chunks_exact_mut(bp));
        for ((pooled_f, argmax_f), (wf, &bias)) in filters.zip(w.chunks_exact(KERNEL_TAPS).zip(b)) {
            for (k, &offset) in WINDOW_OFFSETS.iter().enumerate() {
                conv_lanes(pixels, bp, corner + offset, wf, bias, &mut window);
                for ((best, arg), &c) in pooled_f.iter_mut().zip(argmax_f.iter_mut()).zip(&window) {
                    let c = c.max(0.0);
                    if k == 0 || c > *best {
                        *best = c;
                        *arg = k as f32;
                    }
                }
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
    let bp = pixels.len() / IMAGE_PIXELS;
    let (dw_taps, db) = dw.split_at_mut(FILTERS * KERNEL_TAPS);
    dw_taps.fill(0.0);
    db.fill(0.0);
    let mut routed = vec![0.0f32; bp];
    let positions = pooled
        .chunks_exact(FILTERS * bp)
        .zip(argmax.chunks_exact(FILTERS * bp))
        .zip(grad.chunks_exact(FILTERS * bp));
    for (p, ((pooled_pos, argmax_pos), grad_pos)) in positions.enumerate() {
        let corner = pool_corner(first + p);
        let filters = pooled_pos
            .chunks_exact(bp)
            .zip(argmax_pos.chunks_exact(bp))
            .zip(grad_pos.chunks_exact(bp));
        for (((pooled_f, argmax_f), grad_f), (dwf, dbf)) in
            filters.zip(dw_taps.chunks_exact_mut(KERNEL_TAPS).zip(db.iter_mut()))
        {
            for (k, &offset) in WINDOW_OFFSETS.iter().enumerate() {
                for (((r, &m), &a), &g) in routed.iter_mut().zip(pooled_f).zip(argmax_f).zip(grad_f)
                {
                    *r = if m > 0.0 && a == k as f32 { g } else { 0.0 };
                }
                *dbf += routed.iter().sum::<f32>();
                accumulate_taps(pixels, bp, corner + offset, &routed, dwf);
            }
        }
    }
}

/// See [`super::dense_forward`].
pub fn dense_forward(x: &[f32], w: &[f32], n_out: usize, y: &mut [f32]) {
    let bp = y.len() / n_out;
    y.fill(0.0);
    for (x_row, w_row) in x.chunks_exact(bp).zip(w.chunks_exact(n_out)) {
        for (y_row, &wij) in y.chunks_exact_mut(bp).zip(w_row) {
            for (yv, &xv) in y_row.iter_mut().zip(x_row) {
                *yv += wij * xv;
            }
        }
    }
}

/// See [`super::dense_input_grad`].
pub fn dense_input_grad(w: &[f32], dyt: &[f32], n_out: usize, dxt: &mut [f32]) {
    let bp = dyt.len() / n_out;
    for (dx_row, w_row) in dxt.chunks_exact_mut(bp).zip(w.chunks_exact(n_out)) {
        dx_row.fill(0.0);
        for (dy_row, &wij) in dyt.chunks_exact(bp).zip(w_row) {
            for (d, &g) in dx_row.iter_mut().zip(dy_row) {
                *d += wij * g;
            }
        }
    }
}

/// One row of [`dense_weight_grad`]: `g[j] = sum_b x[b] * dy[b][j]`.
fn weight_grad_row(x_row: &[f32], dy: &[f32], g_row: &mut [f32]) {
    g_row.fill(0.0);
    for (&xv, dy_row) in x_row.iter().zip(dy.chunks_exact(g_row.len())) {
        if xv != 0.0 {
            for (gv, &d) in g_row.iter_mut().zip(dy_row) {
                *gv += xv * d;
            }
        }
    }
}

/// See [`super::dense_weight_grad`].
pub fn dense_weight_grad(x: &[f32], dy: &[f32], n_out: usize, g: &mut [f32]) {
    let bp = dy.len() / n_out;
    for (g_row, x_row) in g.chunks_exact_mut(n_out).zip(x.chunks_exact(bp)) {
        weight_grad_row(x_row, dy, g_row);
    }
}

/// One row of [`dense_backward_masked`]: the masked input gradient and the weight gradient.
fn backward_row(x_row: &[f32], dy: &[f32], w_row: &[f32], dx_row: &mut [f32], g_row: &mut [f32]) {
    for ((d, &xv), dy_row) in dx_row
        .iter_mut()
        .zip(x_row)
        .zip(dy.chunks_exact(w_row.len()))
    {
        *d = if xv != 0.0 {
            w_row.iter().zip(dy_row).map(|(&a, &b)| a * b).sum()
        } else {
            0.0
        };
    }
    weight_grad_row(x_row, dy, g_row);
}

/// See [`super::dense_backward_masked`].
#[allow(clippy::too_many_arguments)]
pub fn dense_backward_masked(
    x: &[f32],
    dy: &[f32],
    _dyt: &[f32],
    n_out: usize,
    w: &[f32],
    dx: &mut [f32],
    g: &mut [f32],
) {
    let bp = dy.len() / n_out;
    let rows = x
        .chunks_exact(bp)
        .zip(w.chunks_exact(n_out))
        .zip(dx.chunks_exact_mut(bp));
    for (((x_row, w_row), dx_row), g_row) in rows.zip(g.chunks_exact_mut(n_out)) {
        backward_row(x_row, dy, w_row, dx_row, g_row);
    }
}

/// See [`super::dense_backward_masked_adam`].
#[allow(clippy::too_many_arguments)]
pub fn dense_backward_masked_adam(
    x: &[f32],
    dy: &[f32],
    _dyt: &[f32],
    n_out: usize,
    w: &mut [f32],
    m: &mut [f32],
    v: &mut [f32],
    step: AdamStep,
    dx: &mut [f32],
) {
    let bp = dy.len() / n_out;
    let mut g_row = vec![0.0f32; n_out];
    let state = w
        .chunks_exact_mut(n_out)
        .zip(m.chunks_exact_mut(n_out))
        .zip(v.chunks_exact_mut(n_out));
    for (((w_row, m_row), v_row), (x_row, dx_row)) in
        state.zip(x.chunks_exact(bp).zip(dx.chunks_exact_mut(bp)))
    {
        backward_row(x_row, dy, w_row, dx_row, &mut g_row);
        adam_update(w_row, m_row, v_row, &g_row, step);
    }
}

/// `x`, or zero if it is subnormal (see [`AdamStep`]).
fn flush(x: f32) -> f32 {
    if x.abs() < f32::MIN_POSITIVE { 0.0 } else { x }
}

/// See [`super::adam_update`].
pub fn adam_update(w: &mut [f32], m: &mut [f32], v: &mut [f32], g: &[f32], step: AdamStep) {
    for (((w, m), v), &g) in w.iter_mut().zip(m.iter_mut()).zip(v.iter_mut()).zip(g) {
        *m = flush(*m + (g - *m) * step.one_minus_beta1);
        *v = flush(*v + (g * g - *v) * step.one_minus_beta2);
        let m_kept = if m.abs() < step.numerator_floor() {
            0.0
        } else {
            *m
        };
        *w = flush(*w - (m_kept * step.alpha) / (v.sqrt() + step.epsilon));
    }
}
