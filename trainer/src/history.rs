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

/// The largest history file read (16 MiB): one is read whole, and a real one holds about
/// 200 bytes per epoch.
pub const MAX_HISTORY_BYTES: u64 = 16 << 20;

/// The largest loss a history may hold: far above any real one, and small enough that
/// the plots' axes stay finite and their tick loops short.
pub const MAX_LOSS: f64 = 1e6;

/// A value of an [`EpochRecord`] that no training run writes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Implausible {
    /// The field, e.g. `val_loss`.
    pub name: &'static str,
    /// Its value.
    pub value: f64,
    /// What it should be, e.g. `within [0, 1]`.
    pub expected: &'static str,
}

impl EpochRecord {
    /// The first value no training run writes: a loss that is not finite or outside
    /// `[0, MAX_LOSS]`, an accuracy outside `[0, 1]`, a negative or non-finite duration.
    /// `None` for a plausible record.
    pub fn implausible(&self) -> Option<Implausible> {
        // Every check is `0 <= value <= max`, which NaN fails; a duration's max is the
        // largest finite f64.
        let fields = [
            ("train_loss", self.train_loss, MAX_LOSS, "within [0, 1e6]"),
            ("val_loss", self.val_loss, MAX_LOSS, "within [0, 1e6]"),
            ("train_accuracy", self.train_accuracy, 1.0, "within [0, 1]"),
            ("val_accuracy", self.val_accuracy, 1.0, "within [0, 1]"),
            ("seconds", self.seconds, f64::MAX, "a duration"),
        ];
        fields
            .into_iter()
            .find(|&(_, value, max, _)| !(0.0..=max).contains(&value))
            .map(|(name, value, _, expected)| Implausible {
                name,
                value,
                expected,
            })
    }
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
    /// `--label-smoothing`: the share of each target spread over the classes (0: none).
    #[serde(default)]
    pub label_smoothing: f32,
    /// Worker threads used.
    pub threads: usize,
    /// One record per finished epoch, in order.
    pub epochs: Vec<EpochRecord>,
    /// Accuracy of the f32 model on the test set, once training has finished.
    pub test_accuracy: Option<f64>,
    /// Accuracy of the exported int8 model on the test set, once it has been exported.
    pub test_accuracy_int8: Option<f64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_implausible_value_is_named_with_the_range_it_should_be_in() {
        let good = EpochRecord {
            epoch: 1,
            train_loss: 0.3,
            train_accuracy: 0.9,
            val_loss: MAX_LOSS,
            val_accuracy: 1.0,
            seconds: 0.0,
        };
        assert_eq!(good.implausible(), None);
        let huge = EpochRecord {
            val_loss: f64::MAX,
            ..good.clone()
        };
        let bad = huge.implausible().unwrap();
        assert_eq!((bad.name, bad.value), ("val_loss", f64::MAX));
        assert_eq!(bad.expected, format!("within [0, {MAX_LOSS:e}]"));
        let nan = EpochRecord {
            train_accuracy: f64::NAN,
            ..good.clone()
        };
        assert_eq!(nan.implausible().unwrap().expected, "within [0, 1]");
        let negative = EpochRecord {
            seconds: -1.0,
            ..good
        };
        assert_eq!(negative.implausible().unwrap().name, "seconds");
    }
}
