//! The forward pass: a batch's pixels to its logits, and inference over many images.

use super::{Network, PREDICT_BATCH, unit_positions};
use crate::kernels;
use picocnn::Variant;
use picocnn::shape::{CLASSES, FILTERS, HIDDEN, IMAGE_PIXELS};
use picocnn_host::params::Params;
use rayon::prelude::*;

impl Network {
    /// Forward pass of the loaded batch up to the logits.
    pub(super) fn forward(&mut self, p: &Params) {
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
    pub(super) fn logits_of(&self, b: usize) -> [f32; CLASSES] {
        std::array::from_fn(|k| self.logits[k * self.bp + b])
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
