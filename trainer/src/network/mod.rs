//! The f32 network as it is trained: batched forward and backward passes of both variants.
//!
//! Conv 3x3x32 + ReLU, [max-pool 2x2], flatten (height-width-channel), dense 128 + ReLU,
//! dense 10, softmax cross-entropy averaged over the batch (Keras's
//! `sparse_categorical_crossentropy`). Parameter layouts are those of [`picocnn_host::params`].
//! The passes are in `forward` and `backward`; loss and accuracy bookkeeping ([`Tally`],
//! [`evaluate`]) in `metrics`.
//!
//! Work is split into a fixed number of units (ranges of positions of the feature map the
//! hidden layer reads) that rayon may run on any thread; partial sums of different units
//! are added in unit order. So the result depends
//! on the inputs alone: not on the number of threads, nor on how they were scheduled.
//!
//! A training step ([`Network::train_step`]) applies Adam to the hidden layer's weights
//! inside the backward pass, tile by tile (see [`kernels::dense_backward_masked_adam`]); the
//! plain gradient ([`Network::gradients`]) is there for checks and gives the same step.
//!
//! For single images and plain loops, see `picocnn_host::reference`; this module is for speed.

mod backward;
mod forward;
mod metrics;

pub use forward::predict;
pub use metrics::{Tally, evaluate, softmax_cross_entropy};

use crate::kernels::{self, CONV_PARAMS, LANES};
use crate::optim::Adam;
use backward::{HiddenUpdate, SmallGrads};
use picocnn::Variant;
use picocnn::shape::{CLASSES, FILTERS, HIDDEN, IMAGE_PIXELS};
use picocnn_host::params::Params;

/// Units the feature map is split into: a fixed number, so that partial sums, and
/// therefore results, do not depend on the thread count. A unit is a range of positions of
/// the map the hidden layer reads (the convolution's for variant A, the pooled one for B):
/// its convolution, its rows of the hidden layer's weights and, going back, both
/// gradients are computed together while its activations are in L2.
const UNITS: usize = 24;
/// Images per batch when only predicting.
const PREDICT_BATCH: usize = 128;

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
    /// Share of the target moved from the true class to all classes evenly (0: none).
    label_smoothing: f32,
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
            label_smoothing: 0.0,
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

    /// Trains toward smoothed targets from now on: `1 - eps + eps / 10` for the true class
    /// and `eps / 10` for every other (Keras's `label_smoothing`), which keeps the network
    /// from growing ever more confident on the training images. The losses reported stay
    /// the plain cross-entropy, comparable with runs without smoothing.
    ///
    /// # Panics
    /// If `eps` is not in `[0, 1)`.
    pub fn set_label_smoothing(&mut self, eps: f32) {
        assert!(
            (0.0..1.0).contains(&eps),
            "label smoothing must be in [0, 1)"
        );
        self.label_smoothing = eps;
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
}
