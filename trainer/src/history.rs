//! The training history: what the trainer measured per epoch, saved as JSON for plots.

use picocnn::{Dataset, Variant};
use serde::{Deserialize, Serialize};

/// Metrics of one finished epoch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpochRecord {
    /// 1-based epoch number.
    pub epoch: usize,
    /// Mean softmax cross-entropy over the epoch's training batches.
    pub train_loss: f64,
    /// Fraction of training images classified correctly during the epoch.
    pub train_accuracy: f64,
    /// Cross-entropy on the validation split after the epoch.
    pub val_loss: f64,
    /// Accuracy on the validation split after the epoch.
    pub val_accuracy: f64,
    /// Wall time of the epoch's training pass, in seconds.
    pub seconds: f64,
}

fn keras_learning_rate() -> f32 {
    0.001
}

fn no_augmentation() -> String {
    "none".into()
}

fn constant_rate() -> String {
    "constant".into()
}

/// Everything one training run measured; written next to `weights.bin` as `*.history.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct History {
    /// Network variant.
    pub variant: Variant,
    /// Dataset trained on.
    pub dataset: Dataset,
    /// Seed of initialization and shuffling.
    pub seed: u64,
    /// Mini-batch size.
    pub batch: usize,
    /// Adam's step size (histories written before the option existed used Keras's 0.001).
    #[serde(default = "keras_learning_rate")]
    pub learning_rate: f32,
    /// `--augment`: `none`, a preset's name or `custom` (histories written before the
    /// option existed trained without augmentation).
    #[serde(default = "no_augmentation")]
    pub augment: String,
    /// The transforms that `augment` stood for, as `name=value` pairs (`none`: nothing).
    #[serde(default = "no_augmentation")]
    pub augment_params: String,
    /// `--lr-schedule`: `constant`, `cosine` or `step`.
    #[serde(default = "constant_rate")]
    pub lr_schedule: String,
    /// `--warmup`: epochs of linear warm-up.
    #[serde(default)]
    pub warmup_epochs: u32,
    /// Worker threads used.
    pub threads: usize,
    /// One record per finished epoch, in order.
    pub epochs: Vec<EpochRecord>,
    /// Accuracy of the f32 model on the test set, once training has finished.
    pub test_accuracy: Option<f64>,
    /// Accuracy of the exported int8 model on the test set, once it has been exported.
    pub test_accuracy_int8: Option<f64>,
}
