//! Loss and accuracy: the softmax cross-entropy, and the totals reported per batch, per
//! epoch and on the test set.

use super::predict;
use picocnn::argmax;
use picocnn::shape::CLASSES;
use picocnn_host::params::Params;

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

    /// Counts one image given its logits and label; returns the softmax of the logits.
    pub fn record(&mut self, logits: &[f32; CLASSES], label: u8) -> [f32; CLASSES] {
        let (loss, probabilities) = softmax_cross_entropy(logits, label);
        self.loss += f64::from(loss);
        self.correct += usize::from(argmax(logits) == usize::from(label));
        self.count += 1;
        probabilities
    }

    /// Adds another tally's counts.
    pub fn add(&mut self, other: Tally) {
        self.loss += other.loss;
        self.correct += other.correct;
        self.count += other.count;
    }
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

/// Mean loss and accuracy of `params` on `images` (`n x IMAGE_PIXELS`) with `labels`.
///
/// # Panics
/// As [`predict`], or if there is not one label per image.
pub fn evaluate(params: &Params, images: &[u8], labels: &[u8]) -> Tally {
    let logits = predict(params, images);
    assert_eq!(logits.len(), labels.len(), "one label per image");
    let mut tally = Tally::default();
    for (z, &label) in logits.iter().zip(labels) {
        tally.record(z, label);
    }
    tally
}
