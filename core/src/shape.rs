//! The two network variants and their fixed layer shapes.
//!
//! Every buffer size in the crate is a `const` expression of these numbers, so the
//! compiler checks the arithmetic once and the inference loops never need to.

use serde::{Deserialize, Serialize};

/// Input image side, in pixels (MNIST and Fashion-MNIST images are 28x28, one channel).
pub const IMAGE_SIDE: usize = 28;
/// Pixels per input image.
pub const IMAGE_PIXELS: usize = IMAGE_SIDE * IMAGE_SIDE;
/// Convolution kernel side (3x3, valid padding, stride 1).
pub const KERNEL_SIDE: usize = 3;
/// Weights per convolution filter (one input channel).
pub const KERNEL_TAPS: usize = KERNEL_SIDE * KERNEL_SIDE;
/// Number of convolution filters (output channels).
pub const FILTERS: usize = 32;
/// Side of the convolution output (valid padding).
pub const CONV_SIDE: usize = IMAGE_SIDE - KERNEL_SIDE + 1;
/// Side of the max-pooled feature map (2x2 window, stride 2).
pub const POOL_SIDE: usize = CONV_SIDE / 2;
/// Units of the hidden dense layer.
pub const HIDDEN: usize = 128;
/// Number of output classes.
pub const CLASSES: usize = 10;

const _: () = assert!(CONV_SIDE == 26 && POOL_SIDE == 13);

/// Which of the two networks: with or without 2x2 max pooling after the convolution.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Variant {
    /// Variant A: conv -> flatten -> dense 128 -> dense 10.
    NoPool,
    /// Variant B (`--pooling`): conv -> 2x2 max-pool -> flatten -> dense 128 -> dense 10.
    Pool,
}

impl Variant {
    /// Both variants, A first.
    pub const ALL: [Variant; 2] = [Variant::NoPool, Variant::Pool];

    /// Side of the feature map that is flattened into the hidden layer.
    pub const fn feature_side(self) -> usize {
        match self {
            Variant::NoPool => CONV_SIDE,
            Variant::Pool => POOL_SIDE,
        }
    }

    /// Spatial positions of the flattened feature map.
    pub const fn feature_positions(self) -> usize {
        self.feature_side() * self.feature_side()
    }

    /// Length of the flattened feature vector (positions x filters).
    pub const fn flat_len(self) -> usize {
        self.feature_positions() * FILTERS
    }

    /// Trainable parameters of the float model (weights and biases of all layers).
    pub const fn params(self) -> usize {
        let conv = FILTERS * KERNEL_TAPS + FILTERS;
        let hidden = self.flat_len() * HIDDEN + HIDDEN;
        let output = HIDDEN * CLASSES + CLASSES;
        conv + hidden + output
    }

    /// Multiply-accumulates per image (convolution and both dense layers).
    pub const fn macs(self) -> usize {
        CONV_SIDE * CONV_SIDE * FILTERS * KERNEL_TAPS + self.flat_len() * HIDDEN + HIDDEN * CLASSES
    }

    /// Short lowercase name, as used on the command line and in file names.
    pub const fn name(self) -> &'static str {
        match self {
            Variant::NoPool => "nopool",
            Variant::Pool => "pool",
        }
    }

    /// The name people read in tables, plots and messages.
    pub const fn title(self) -> &'static str {
        match self {
            Variant::NoPool => "A (no pooling)",
            Variant::Pool => "B (2x2 max-pooling)",
        }
    }
}

/// Which dataset a model was trained on; it fixes the class names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Dataset {
    /// MNIST handwritten digits.
    Mnist,
    /// Fashion-MNIST clothing images.
    Fashion,
}

impl Dataset {
    /// Both datasets.
    pub const ALL: [Dataset; 2] = [Dataset::Mnist, Dataset::Fashion];

    /// Short lowercase name, as used on the command line and in file names.
    pub const fn name(self) -> &'static str {
        match self {
            Dataset::Mnist => "mnist",
            Dataset::Fashion => "fashion",
        }
    }

    /// The ten class names, in label order.
    pub const fn class_names(self) -> [&'static str; CLASSES] {
        match self {
            Dataset::Mnist => ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"],
            Dataset::Fashion => [
                "T-shirt/top",
                "Trouser",
                "Pullover",
                "Dress",
                "Coat",
                "Sandal",
                "Shirt",
                "Sneaker",
                "Bag",
                "Ankle boot",
            ],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn totals_match_the_design() {
        assert_eq!(Variant::NoPool.params(), 2_770_634);
        assert_eq!(Variant::Pool.params(), 693_962);
        assert_eq!(Variant::NoPool.flat_len(), 21_632);
        assert_eq!(Variant::Pool.flat_len(), 5_408);
    }
}
