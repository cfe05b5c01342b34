//! Reference kernels: plain loops, compiled on every target.
//!
//! They define what each kernel computes (see the dispatch functions in [`super`] for the
//! contracts) and run in portable builds. Loops keep the batch innermost so the compiler
//! can vectorize them for whatever the target offers. Shapes are checked by the caller.

use super::{AdamStep, CONV_ROW};
use picocnn::shape::{CONV_SIDE, FILTERS, IMAGE_PIXELS, IMAGE_SIDE, KERNEL_SIDE, KERNEL_TAPS};

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

/// See [`super::conv_forward`].
pub fn conv_forward(pixels: &[f32], w: &[f32], b: &[f32], first_row: usize, out: &mut [f32]) {
    let bp = pixels.len() / IMAGE_PIXELS;
    for (row, out_row) in out.chunks_exact_mut(CONV_ROW * bp).enumerate() {
        let y = first_row + row;
        for (x, out_pos) in out_row.chunks_exact_mut(FILTERS * bp).enumerate() {
            let corner = y * IMAGE_SIDE + x;
            for ((out_f, wf), &bias) in out_pos
                .chunks_exact_mut(bp)
                .zip(w.chunks_exact(KERNEL_TAPS))
                .zip(b)
            {
                out_f.fill(bias);
                for (&offset, &wk) in TAP_OFFSETS.iter().zip(wf) {
                    let tap = &pixels[(corner + offset) * bp..][..bp];
                    for (o, &p) in out_f.iter_mut().zip(tap) {
                        *o += wk * p;
                    }
                }
                for o in out_f.iter_mut() {
                    *o = o.max(0.0);
                }
            }
        }
    }
}

/// See [`super::conv_backward`].
pub fn conv_backward(pixels: &[f32], first_row: usize, out: &[f32], grad: &[f32], dw: &mut [f32]) {
    let bp = pixels.len() / IMAGE_PIXELS;
    let (dw_taps, db) = dw.split_at_mut(FILTERS * KERNEL_TAPS);
    dw_taps.fill(0.0);
    db.fill(0.0);
    let mut masked = vec![0.0f32; bp];
    let rows = out
        .chunks_exact(CONV_ROW * bp)
        .zip(grad.chunks_exact(CONV_ROW * bp));
    for (row, (out_row, grad_row)) in rows.enumerate() {
        let y = first_row + row;
        let positions = out_row
            .chunks_exact(FILTERS * bp)
            .zip(grad_row.chunks_exact(FILTERS * bp));
        for (x, (out_pos, grad_pos)) in positions.enumerate() {
            let corner = y * IMAGE_SIDE + x;
            let filters = out_pos.chunks_exact(bp).zip(grad_pos.chunks_exact(bp));
            for (((out_f, grad_f), dwf), dbf) in filters
                .zip(dw_taps.chunks_exact_mut(KERNEL_TAPS))
                .zip(db.iter_mut())
            {
                for ((mg, &o), &g) in masked.iter_mut().zip(out_f).zip(grad_f) {
                    *mg = if o > 0.0 { g } else { 0.0 };
                }
                *dbf += masked.iter().sum::<f32>();
                for (&offset, dwk) in TAP_OFFSETS.iter().zip(dwf.iter_mut()) {
                    let tap = &pixels[(corner + offset) * bp..][..bp];
                    *dwk += masked.iter().zip(tap).map(|(&g, &p)| g * p).sum::<f32>();
                }
            }
        }
    }
}

/// The four windows' element runs of pooled column `x`: `(top-left, top-right,
/// bottom-left, bottom-right)` start offsets inside two convolution rows.
fn window_starts(x: usize, run: usize) -> [usize; 4] {
    let row = CONV_SIDE * run;
    [
        2 * x * run,
        (2 * x + 1) * run,
        row + 2 * x * run,
        row + (2 * x + 1) * run,
    ]
}

/// See [`super::pool_forward`].
pub fn pool_forward(conv: &[f32], pooled: &mut [f32]) {
    let run = conv.len() / (2 * CONV_SIDE);
    for (x, out) in pooled.chunks_exact_mut(run).enumerate() {
        let [a, b, c, d] = window_starts(x, run).map(|s| &conv[s..][..run]);
        for ((((o, &a), &b), &c), &d) in out.iter_mut().zip(a).zip(b).zip(c).zip(d) {
            *o = a.max(b).max(c.max(d));
        }
    }
}

/// See [`super::pool_backward`].
pub fn pool_backward(conv: &[f32], pooled: &[f32], grad_pooled: &[f32], grad_conv: &mut [f32]) {
    let run = conv.len() / (2 * CONV_SIDE);
    grad_conv.fill(0.0);
    for (x, (out, g_out)) in pooled
        .chunks_exact(run)
        .zip(grad_pooled.chunks_exact(run))
        .enumerate()
    {
        let starts = window_starts(x, run);
        for (e, (&m, &g)) in out.iter().zip(g_out).enumerate() {
            if m <= 0.0 {
                continue;
            }
            if let Some(&s) = starts.iter().find(|&&s| conv[s + e] == m) {
                grad_conv[s + e] = g;
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
        for (gv, &d) in g_row.iter_mut().zip(dy_row) {
            *gv += xv * d;
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
    let mut g_row = vec![0.0f32; n_out];
    let rows = w
        .chunks_exact_mut(n_out)
        .zip(m.chunks_exact_mut(n_out))
        .zip(v.chunks_exact_mut(n_out));
    for (((w_row, m_row), v_row), x_row) in rows.zip(x.chunks_exact(bp)) {
        weight_grad_row(x_row, dy, &mut g_row);
        adam_update(w_row, m_row, v_row, &g_row, step);
    }
}

/// See [`super::adam_update`].
pub fn adam_update(w: &mut [f32], m: &mut [f32], v: &mut [f32], g: &[f32], step: AdamStep) {
    for (((w, m), v), &g) in w.iter_mut().zip(m.iter_mut()).zip(v.iter_mut()).zip(g) {
        *m += (g - *m) * step.one_minus_beta1;
        *v += (g * g - *v) * step.one_minus_beta2;
        *w -= (*m * step.alpha) / (v.sqrt() + step.epsilon);
    }
}
