//! The f32 network as it is trained: batched forward and backward passes of both variants.
//!
//! Conv 3x3x32 + ReLU, [max-pool 2x2], flatten (height-width-channel), dense 128 + ReLU,
//! dense 10, softmax cross-entropy averaged over the batch (Keras's
//! `sparse_categorical_crossentropy`). Parameter layouts are those of [`picocnn_host::params`].
//!
//! Work is split into a fixed number of units (ranges of positions of the feature map the
//! hidden layer reads) that rayon may run on any thread; partial sums of different units
//! are added in unit order. So the result depends
//! on the inputs alone: not on the number of threads, nor on how they were scheduled.
//!
//! A training step ([`Network::train_step`]) applies Adam to the hidden layer's weights
//! inside the backward pass, tile by tile (see `kernels::dense_weight_grad_adam`); the
//! plain gradient ([`Network::gradients`]) is there for checks and gives the same step.
//!
//! For single images and plain loops, see `picocnn_host::reference`; this module is for speed.

use crate::kernels::{self, AdamStep, CONV_PARAMS, LANES};
use crate::optim::Adam;
use picocnn::Variant;
use picocnn::shape::{CLASSES, FILTERS, HIDDEN, IMAGE_PIXELS, KERNEL_TAPS};
use picocnn_host::params::Params;
use rayon::prelude::*;

/// Units the feature map is split into: a fixed number, so that partial sums, and
/// therefore results, do not depend on the thread count. A unit is a range of positions of
/// the map the hidden layer reads (the convolution's for variant A, the pooled one for B):
/// its convolution, its rows of the hidden layer's weights and, going back, both
/// gradients are computed together while its activations are in L2.
const UNITS: usize = 24;
/// Images per batch when only predicting.
const PREDICT_BATCH: usize = 128;

/// Loss and accuracy totals over some images.
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Tally {
    /// Sum of the per-image cross-entropies.
    pub loss: f64,
    /// Images whose largest logit is their label's.
    pub correct: usize,
    /// Images counted.
    pub count: usize,
}

impl Tally {
    /// Mean cross-entropy (0 when empty).
    pub fn mean_loss(&self) -> f64 {
        if self.count == 0 {
            0.0
        } else {
            self.loss / self.count as f64
        }
    }

    /// Fraction classified correctly (0 when empty).
    pub fn accuracy(&self) -> f64 {
        if self.count == 0 {
            0.0
        } else {
            self.correct as f64 / self.count as f64
        }
    }

    /// Adds another tally's counts.
    pub fn add(&mut self, other: Tally) {
        self.loss += other.loss;
        self.correct += other.correct;
        self.count += other.count;
    }
}

/// Positions of the hidden layer's input map per unit.
fn unit_positions(variant: Variant) -> usize {
    variant.feature_positions().div_ceil(UNITS)
}

/// One unit's activations, kept from the forward to the backward pass.
#[derive(Debug)]
struct Unit {
    /// First position of the unit in the map the hidden layer reads.
    first: usize,
    /// The unit's features, `positions x FILTERS x bp` (convolution or pooled output).
    x: Vec<f32>,
    /// Variant B: which window element each pooled feature came from; empty for A.
    argmax: Vec<f32>,
    /// This unit's share of the hidden layer's pre-activation, `HIDDEN x bp`.
    partial: Vec<f32>,
    /// The loss gradient with respect to `x` (zero where `x` is).
    dx: Vec<f32>,
    /// This unit's share of the convolution's weight and bias gradient.
    conv_grad: Vec<f32>,
}

/// Activation and gradient buffers for one padded batch, reused from step to step.
#[derive(Debug)]
pub struct Network {
    variant: Variant,
    /// Batch capacity, padded to a multiple of [`LANES`].
    bp: usize,
    /// Images currently loaded.
    n: usize,
    pixels: Vec<f32>,
    units: Vec<Unit>,
    /// The hidden layer's output after ReLU, `HIDDEN x bp`.
    hidden: Vec<f32>,
    logits: Vec<f32>,
    d_logits: Vec<f32>,
    d_logits_t: Vec<f32>,
    d_hidden_t: Vec<f32>,
    d_hidden: Vec<f32>,
}

/// Gradients of the small tensors (everything but the hidden weights).
#[derive(Debug, Default)]
struct SmallGrads {
    conv_w: Vec<f32>,
    conv_b: Vec<f32>,
    hidden_b: Vec<f32>,
    output_w: Vec<f32>,
    output_b: Vec<f32>,
}

/// What the backward pass does with the hidden layer's weight gradient.
enum HiddenUpdate<'a> {
    /// Apply Adam to the weights right away (training).
    Adam {
        m: &'a mut [f32],
        v: &'a mut [f32],
        step: AdamStep,
    },
    /// Store it (gradient checks).
    Store(&'a mut [f32]),
}

impl Network {
    /// Buffers for batches of up to `batch` images of `variant`.
    ///
    /// # Panics
    /// If `batch` is 0.
    pub fn new(variant: Variant, batch: usize) -> Self {
        assert!(batch > 0, "batch size must be positive");
        let bp = batch.next_multiple_of(LANES);
        let per_unit = unit_positions(variant);
        let positions = variant.feature_positions();
        let units = (0..positions)
            .step_by(per_unit)
            .map(|first| {
                let len = per_unit.min(positions - first) * FILTERS * bp;
                Unit {
                    first,
                    x: vec![0.0; len],
                    argmax: if variant == Variant::Pool {
                        vec![0.0; len]
                    } else {
                        Vec::new()
                    },
                    partial: vec![0.0; HIDDEN * bp],
                    dx: vec![0.0; len],
                    conv_grad: vec![0.0; CONV_PARAMS],
                }
            })
            .collect();
        Network {
            variant,
            bp,
            n: 0,
            pixels: vec![0.0; IMAGE_PIXELS * bp],
            units,
            hidden: vec![0.0; HIDDEN * bp],
            logits: vec![0.0; CLASSES * bp],
            d_logits: vec![0.0; bp * CLASSES],
            d_logits_t: vec![0.0; CLASSES * bp],
            d_hidden_t: vec![0.0; HIDDEN * bp],
            d_hidden: vec![0.0; bp * HIDDEN],
        }
    }

    /// The variant these buffers are shaped for.
    pub fn variant(&self) -> Variant {
        self.variant
    }

    /// Most images one batch can hold.
    pub fn capacity(&self) -> usize {
        self.bp
    }

    /// Puts a batch in place: pixels scaled to `[0, 1]` (`/ 255`, as the Keras exercise
    /// does), padding lanes zero.
    fn load(&mut self, images: &[&[u8; IMAGE_PIXELS]]) {
        assert!(
            !images.is_empty() && images.len() <= self.bp,
            "batch of {} images for buffers of {}",
            images.len(),
            self.bp
        );
        self.n = images.len();
        let bp = self.bp;
        for (p, lanes) in self.pixels.chunks_exact_mut(bp).enumerate() {
            for (lane, image) in lanes.iter_mut().zip(images) {
                *lane = f32::from(image[p]) / 255.0;
            }
            lanes[images.len()..].fill(0.0);
        }
    }

    /// Forward pass of the loaded batch up to the logits.
    fn forward(&mut self, p: &Params) {
        assert_eq!(p.variant, self.variant, "parameters of another variant");
        let bp = self.bp;
        let pixels = &self.pixels;
        let rows = unit_positions(self.variant) * FILTERS;
        let variant = self.variant;
        self.units
            .par_iter_mut()
            .zip(p.hidden_w.par_chunks(rows * HIDDEN))
            .for_each(|(unit, w)| {
                match variant {
                    Variant::NoPool => {
                        kernels::conv_forward(pixels, &p.conv_w, &p.conv_b, unit.first, &mut unit.x)
                    }
                    Variant::Pool => kernels::conv_pool_forward(
                        pixels,
                        &p.conv_w,
                        &p.conv_b,
                        unit.first,
                        &mut unit.x,
                        &mut unit.argmax,
                    ),
                }
                kernels::dense_forward(&unit.x, w, HIDDEN, &mut unit.partial);
            });

        let (first, rest) = self.units.split_first().expect("at least one unit");
        self.hidden.copy_from_slice(&first.partial);
        for unit in rest {
            for (h, &s) in self.hidden.iter_mut().zip(&unit.partial) {
                *h += s;
            }
        }
        for (h_j, &b_j) in self.hidden.chunks_exact_mut(bp).zip(&p.hidden_b) {
            for h in h_j {
                *h = (*h + b_j).max(0.0);
            }
        }

        kernels::dense_forward(&self.hidden, &p.output_w, CLASSES, &mut self.logits);
        for (z_k, &b_k) in self.logits.chunks_exact_mut(bp).zip(&p.output_b) {
            for z in z_k {
                *z += b_k;
            }
        }
    }

    /// Logits of loaded image `b`.
    fn logits_of(&self, b: usize) -> [f32; CLASSES] {
        std::array::from_fn(|k| self.logits[k * self.bp + b])
    }

    /// Cross-entropy of the loaded batch against `labels`, and its gradient with respect to
    /// the logits (mean over the batch) in both layouts the backward pass wants.
    fn loss_gradient(&mut self, labels: &[u8]) -> Tally {
        assert_eq!(labels.len(), self.n, "one label per image");
        let mut tally = Tally::default();
        self.d_logits.fill(0.0);
        let scale = 1.0 / self.n as f32;
        for (b, &label) in labels.iter().enumerate() {
            let logits = self.logits_of(b);
            let (loss, probabilities) = softmax_cross_entropy(&logits, label);
            tally.loss += f64::from(loss);
            tally.correct += usize::from(argmax(&logits) == usize::from(label));
            tally.count += 1;
            let d = &mut self.d_logits[b * CLASSES..][..CLASSES];
            for (k, (d_k, &p_k)) in d.iter_mut().zip(&probabilities).enumerate() {
                let target = if k == usize::from(label) { 1.0 } else { 0.0 };
                // Flushed like everything TensorFlow computes on a CPU (see `AdamStep`).
                let d = (p_k - target) * scale;
                *d_k = if d.abs() < f32::MIN_POSITIVE { 0.0 } else { d };
            }
        }
        transpose(&self.d_logits, self.bp, CLASSES, &mut self.d_logits_t);
        tally
    }

    /// Backward pass through the output layer; returns its gradients and leaves the hidden
    /// layer's output gradient (through its ReLU) in `d_hidden_t` and `d_hidden`.
    fn backward_output(&mut self, p: &Params, grads: &mut SmallGrads) {
        let bp = self.bp;
        grads.output_w.resize(HIDDEN * CLASSES, 0.0);
        kernels::dense_weight_grad(&self.hidden, &self.d_logits, CLASSES, &mut grads.output_w);
        grads.output_b = self
            .d_logits_t
            .chunks_exact(bp)
            .map(|d| d.iter().sum())
            .collect();
        kernels::dense_input_grad(&p.output_w, &self.d_logits_t, CLASSES, &mut self.d_hidden_t);
        for (d, &h) in self.d_hidden_t.iter_mut().zip(&self.hidden) {
            if h <= 0.0 {
                *d = 0.0;
            }
        }
        grads.hidden_b = self
            .d_hidden_t
            .chunks_exact(bp)
            .map(|d| d.iter().sum())
            .collect();
        transpose(&self.d_hidden_t, HIDDEN, bp, &mut self.d_hidden);
    }

    /// Backward pass through the hidden layer and the convolution (and pooling), unit by
    /// unit: the hidden layer's input gradient (with the weights before any update) and
    /// weight gradient (stored, or applied at once by Adam) for the unit's rows, then the
    /// convolution's gradient from the unit's positions while the input gradient is still
    /// in cache.
    fn backward_hidden_and_conv(
        &mut self,
        hidden_w: &mut [f32],
        update: HiddenUpdate<'_>,
        grads: &mut SmallGrads,
    ) {
        let rows = unit_positions(self.variant) * FILTERS;
        let (pixels, d_hidden, d_hidden_t) = (&self.pixels, &self.d_hidden, &self.d_hidden_t);
        let variant = self.variant;
        let conv_backward = |unit: &mut Unit| match variant {
            Variant::NoPool => {
                kernels::conv_backward(pixels, unit.first, &unit.x, &unit.dx, &mut unit.conv_grad)
            }
            Variant::Pool => kernels::conv_pool_backward(
                pixels,
                unit.first,
                &unit.x,
                &unit.argmax,
                &unit.dx,
                &mut unit.conv_grad,
            ),
        };
        let units = self
            .units
            .par_iter_mut()
            .zip(hidden_w.par_chunks_mut(rows * HIDDEN));
        match update {
            HiddenUpdate::Adam { m, v, step } => {
                let state = m
                    .par_chunks_mut(rows * HIDDEN)
                    .zip(v.par_chunks_mut(rows * HIDDEN));
                units.zip(state).for_each(|((unit, w), (m, v))| {
                    let (x, dx) = (&unit.x, &mut unit.dx);
                    kernels::dense_backward_masked_adam(
                        x, d_hidden, d_hidden_t, HIDDEN, w, m, v, step, dx,
                    );
                    conv_backward(unit);
                });
            }
            HiddenUpdate::Store(g) => {
                units
                    .zip(g.par_chunks_mut(rows * HIDDEN))
                    .for_each(|((unit, w), g)| {
                        let (x, dx) = (&unit.x, &mut unit.dx);
                        kernels::dense_backward_masked(x, d_hidden, d_hidden_t, HIDDEN, w, dx, g);
                        conv_backward(unit);
                    });
            }
        }

        let mut total = vec![0.0f32; CONV_PARAMS];
        for unit in &self.units {
            for (t, &s) in total.iter_mut().zip(&unit.conv_grad) {
                *t += s;
            }
        }
        grads.conv_b = total.split_off(FILTERS * KERNEL_TAPS);
        grads.conv_w = total;
    }

    /// One training step on a batch: forward, backward and an Adam update of every
    /// parameter. Returns the batch's loss and accuracy before the update (as Keras
    /// reports them).
    ///
    /// # Panics
    /// If the batch is empty, larger than the capacity, has a label per image missing, or
    /// if `params`/`adam` belong to another variant.
    pub fn train_step(
        &mut self,
        params: &mut Params,
        adam: &mut Adam,
        images: &[&[u8; IMAGE_PIXELS]],
        labels: &[u8],
    ) -> Tally {
        self.load(images);
        self.forward(params);
        let tally = self.loss_gradient(labels);
        let mut grads = SmallGrads::default();
        self.backward_output(params, &mut grads);

        let step = adam.next_step();
        let update = HiddenUpdate::Adam {
            m: &mut adam.m.hidden_w,
            v: &mut adam.v.hidden_w,
            step,
        };
        self.backward_hidden_and_conv(&mut params.hidden_w, update, &mut grads);
        let small = [
            (
                &mut params.conv_w,
                &mut adam.m.conv_w,
                &mut adam.v.conv_w,
                &grads.conv_w,
            ),
            (
                &mut params.conv_b,
                &mut adam.m.conv_b,
                &mut adam.v.conv_b,
                &grads.conv_b,
            ),
            (
                &mut params.hidden_b,
                &mut adam.m.hidden_b,
                &mut adam.v.hidden_b,
                &grads.hidden_b,
            ),
            (
                &mut params.output_w,
                &mut adam.m.output_w,
                &mut adam.v.output_w,
                &grads.output_w,
            ),
            (
                &mut params.output_b,
                &mut adam.m.output_b,
                &mut adam.v.output_b,
                &grads.output_b,
            ),
        ];
        for (w, m, v, g) in small {
            kernels::adam_update(w, m, v, g, step);
        }
        tally
    }

    /// The gradient of the batch's mean cross-entropy with respect to every parameter,
    /// shaped like the parameters, and the batch's loss and accuracy.
    ///
    /// # Panics
    /// As [`Network::train_step`].
    pub fn gradients(
        &mut self,
        params: &Params,
        images: &[&[u8; IMAGE_PIXELS]],
        labels: &[u8],
    ) -> (Params, Tally) {
        self.load(images);
        self.forward(params);
        let tally = self.loss_gradient(labels);
        let mut grads = SmallGrads::default();
        self.backward_output(params, &mut grads);

        let mut hidden_w = vec![0.0; params.hidden_w.len()];
        // The backward pass takes the weights mutably (training updates them in place);
        // here it only reads them, from a copy.
        let mut weights = params.hidden_w.clone();
        self.backward_hidden_and_conv(&mut weights, HiddenUpdate::Store(&mut hidden_w), &mut grads);
        let grads = Params {
            variant: self.variant,
            conv_w: grads.conv_w,
            conv_b: grads.conv_b,
            hidden_w,
            hidden_b: grads.hidden_b,
            output_w: grads.output_w,
            output_b: grads.output_b,
        };
        (grads, tally)
    }

    /// Logits of a batch of images.
    ///
    /// # Panics
    /// If the batch is empty or larger than the capacity, or `params` is of another variant.
    pub fn logits(
        &mut self,
        params: &Params,
        images: &[&[u8; IMAGE_PIXELS]],
    ) -> Vec<[f32; CLASSES]> {
        self.load(images);
        self.forward(params);
        (0..self.n).map(|b| self.logits_of(b)).collect()
    }
}

/// `dst[c][r] = src[r][c]` for a `rows x cols` matrix.
fn transpose(src: &[f32], rows: usize, cols: usize, dst: &mut [f32]) {
    for (r, src_row) in src.chunks_exact(cols).take(rows).enumerate() {
        for (c, &s) in src_row.iter().enumerate() {
            dst[c * rows + r] = s;
        }
    }
}

/// Index of the first largest logit.
pub fn argmax(logits: &[f32; CLASSES]) -> usize {
    let mut best = 0;
    for (k, &z) in logits.iter().enumerate() {
        if z > logits[best] {
            best = k;
        }
    }
    best
}

/// Cross-entropy of `label` under the softmax of `logits`, and the softmax itself.
/// Computed from the logits (log-sum-exp), which is what Keras does for a softmax output.
pub fn softmax_cross_entropy(logits: &[f32; CLASSES], label: u8) -> (f32, [f32; CLASSES]) {
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let exp = logits.map(|z| (z - max).exp());
    let sum: f32 = exp.iter().sum();
    let loss = sum.ln() - (logits[usize::from(label)] - max);
    (loss, exp.map(|e| e / sum))
}

/// Logits of every image in `images` (`n x IMAGE_PIXELS` bytes), in order, computed on
/// the current rayon thread pool.
///
/// # Panics
/// If `images.len()` is not a multiple of `IMAGE_PIXELS` or `params` has invalid shapes.
pub fn predict(params: &Params, images: &[u8]) -> Vec<[f32; CLASSES]> {
    assert!(
        params.has_valid_shapes(),
        "parameters do not match their variant"
    );
    let (images, rest) = images.as_chunks::<IMAGE_PIXELS>();
    assert!(
        rest.is_empty(),
        "image bytes are not a whole number of images"
    );
    let mut net = Network::new(params.variant, PREDICT_BATCH.min(images.len().max(1)));
    let mut out = Vec::with_capacity(images.len());
    for batch in images.chunks(net.capacity()) {
        let refs: Vec<&[u8; IMAGE_PIXELS]> = batch.iter().collect();
        out.extend(net.logits(params, &refs));
    }
    out
}

/// Mean loss and accuracy of `params` on `images` (`n x IMAGE_PIXELS`) with `labels`.
///
/// # Panics
/// As [`predict`], or if there is not one label per image.
pub fn evaluate(params: &Params, images: &[u8], labels: &[u8]) -> Tally {
    let logits = predict(params, images);
    assert_eq!(logits.len(), labels.len(), "one label per image");
    let mut tally = Tally::default();
    for (z, &label) in logits.iter().zip(labels) {
        tally.loss += f64::from(softmax_cross_entropy(z, label).0);
        tally.correct += usize::from(argmax(z) == usize::from(label));
        tally.count += 1;
    }
    tally
}
