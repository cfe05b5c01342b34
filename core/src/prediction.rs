//! What an inference returns: [`Logits`] (integers only) and [`Prediction`] (with the
//! softmax probabilities).
//!
//! Both print without floating-point formatting (core's float printing costs a
//! microcontroller about 18 KB of flash): logits are integers, and a [`Prediction`] shows
//! its probabilities to three decimals through integer arithmetic. Format the
//! `probabilities` field yourself for more digits.

use crate::shape::CLASSES;
use core::fmt;

/// The integer result of one inference: no floating point is involved in computing or
/// printing it.
///
/// ```
/// let logits = picocnn::Logits::new([0, 5, -3, 5, 0, 0, 0, 0, 0, 0]);
/// assert_eq!(logits.class, 1); // the first maximum
/// assert_eq!(format!("{logits}"), "class 1, logits [0, 5, -3, 5, 0, 0, 0, 0, 0, 0]");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Logits {
    /// Index of the winning class: the first maximum of `values`.
    pub class: usize,
    /// Integer logits, all at the model's common scale
    /// ([`Model::logit_scale`](crate::Model::logit_scale), `2^-16` for files written by
    /// the trainer): exact, and comparable across classes.
    pub values: [i32; CLASSES],
}

impl Logits {
    /// The logits and their winning class (the first maximum).
    pub fn new(values: [i32; CLASSES]) -> Self {
        Logits {
            class: argmax(&values),
            values,
        }
    }
}

/// Index of the first largest value (0 for an empty slice; a NaN after the first value
/// never wins, as every comparison with it is false): the class a vector of logits or
/// probabilities votes for, in the core and in the host tools alike.
///
/// ```
/// assert_eq!(picocnn::argmax(&[1, 7, 7, 3]), 1);
/// assert_eq!(picocnn::argmax(&[0.5f32, f32::NAN, 0.25]), 0);
/// ```
pub fn argmax<T: PartialOrd + Copy>(values: &[T]) -> usize {
    let mut best = 0;
    let mut max = None;
    for (k, &v) in values.iter().enumerate() {
        if max.is_none_or(|m| v > m) {
            best = k;
            max = Some(v);
        }
    }
    best
}

impl fmt::Display for Logits {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "class {}, logits {:?}", self.class, self.values)
    }
}

/// One image's class, integer logits and softmax probabilities.
///
/// `Debug` and `Display` print the probabilities to three decimals with integer
/// arithmetic, so printing a `Prediction` pulls in no float formatting.
///
/// ```
/// let p = picocnn::Prediction {
///     class: 1,
///     logits: [0, 65536, 0, 0, 0, 0, 0, 0, 0, 0],
///     probabilities: [0.0219, 0.8032, 0.0219, 0.0219, 0.0219, 0.0219, 0.0219, 0.0219, 0.0219, 0.0219],
/// };
/// assert_eq!(format!("{p}"), "class 1 (p 0.803)");
/// assert!(format!("{p:?}").contains("probabilities: [0.022, 0.803, 0.022"));
/// ```
#[derive(Clone, Copy, PartialEq)]
pub struct Prediction {
    /// Index of the winning class: the first maximum of `logits`.
    pub class: usize,
    /// Integer logits, all at the model's common scale
    /// ([`Model::logit_scale`](crate::Model::logit_scale), `2^-16` for files written by
    /// the trainer): exact, and comparable across classes.
    pub logits: [i32; CLASSES],
    /// Softmax of the logits (precision: [`softmax::PRECISION`](crate::softmax::PRECISION)).
    pub probabilities: [f32; CLASSES],
}

impl Prediction {
    /// The class and logits alone.
    pub fn to_logits(&self) -> Logits {
        Logits {
            class: self.class,
            values: self.logits,
        }
    }
}

/// A probability printed as `0.ddd` through integers (rounded to the nearest thousandth).
struct Thousandths(f32);

impl fmt::Debug for Thousandths {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // A saturating cast: NaN gives 0, anything above 1 gives 1.000.
        let m = ((self.0 * 1000.0 + 0.5) as u32).min(1000);
        write!(f, "{}.{:03}", m / 1000, m % 1000)
    }
}

impl fmt::Debug for Prediction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Prediction")
            .field("class", &self.class)
            .field("logits", &self.logits)
            .field("probabilities", &self.probabilities.map(Thousandths))
            .finish()
    }
}

impl fmt::Display for Prediction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let p = self.probabilities.get(self.class).copied().unwrap_or(0.0);
        write!(f, "class {} (p {:?})", self.class, Thousandths(p))
    }
}
