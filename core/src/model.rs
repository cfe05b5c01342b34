//! A validated model borrowed from its bytes, the scratch RAM, and `classify`.

use crate::conv::{Conv, group_slice, patch, window_patches};
use crate::dense::{accumulate_band, dot};
use crate::error::{Error, Result};
use crate::format::{Integrity, LayerFile, ModelFile};
use crate::layout::{BAND_LEN, BAND_POSITIONS, CONV_GROUP, CONV_WEIGHTS, OUTPUT_WEIGHTS};
use crate::pool::max_pool;
use crate::quant::{ChannelParams, MAX_SHIFT, MIN_SHIFT, Multiplier, requantize};
use crate::shape::{
    CLASSES, CONV_SIDE, Dataset, FILTERS, HIDDEN, IMAGE_PIXELS, IMAGE_SIDE, KERNEL_TAPS, Variant,
};
use crate::softmax::softmax;
use core::fmt;

/// Largest bias magnitude a file may hold. With it, no accumulator can overflow `i32`:
/// the largest dot product (variant A's hidden layer, any int8 weights, activations up
/// to 255 above their zero point) stays below `2^30` as well.
pub const BIAS_LIMIT: i32 = 1 << 30;

const _: () = assert!(Variant::NoPool.flat_len() * 128 * 255 < (1 << 30));
const _: () = assert!(2 * BAND_POSITIONS == CONV_SIDE);
const _: () = assert!(BAND_LEN >= HIDDEN);
const _: () = assert!(Scratch::BYTES <= 2048);

/// Conv positions of variant A computed together. On a host the whole 13-position band:
/// each weight row is widened once for 13 vector multiply-adds. On a microcontroller
/// (no SIMD) batching saves nothing and its accumulators would cost ~800 bytes of stack,
/// so one position at a time. Same arithmetic, same results.
const CONV_BATCH: usize = if cfg!(target_os = "none") {
    1
} else {
    BAND_POSITIONS
};
const _: () = assert!(BAND_POSITIONS.is_multiple_of(CONV_BATCH));

/// Zero point of the int8 input: `q = pixel - 128`, so `q - zero_point` is the pixel.
pub const INPUT_ZERO_POINT: i8 = -128;

/// All activation RAM one inference needs, with sizes fixed at compile time.
///
/// The feature map is never stored: a band of 13 positions x 32 channels is produced by
/// the fused conv + ReLU (+ max-pool) and consumed at once by the hidden layer's 128
/// accumulators; the band buffer then holds the hidden activations for the output layer.
/// The same `Scratch` serves both variants; a firmware can keep one in a `static`.
///
/// ```
/// assert!(core::mem::size_of::<picocnn::Scratch>() <= 2048);
/// static mut _SCRATCH: picocnn::Scratch = picocnn::Scratch::new();
/// ```
#[derive(Clone)]
pub struct Scratch {
    /// The current band's activations minus their zero point, as i16 for the
    /// multiply-adds; at the end, the hidden layer's activations.
    band: [i16; BAND_LEN],
    /// Hidden-layer accumulators.
    hidden: [i32; HIDDEN],
}

impl Scratch {
    /// Bytes of activation RAM, the same for both variants (1,344: the 416 i16 of a band
    /// and the 128 i32 accumulators).
    pub const BYTES: usize = core::mem::size_of::<Scratch>();

    /// Zeroed scratch buffers.
    pub const fn new() -> Self {
        Scratch {
            band: [0; BAND_LEN],
            hidden: [0; HIDDEN],
        }
    }
}

impl Default for Scratch {
    fn default() -> Self {
        Scratch::new()
    }
}

impl fmt::Debug for Scratch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Scratch({} bytes)", Scratch::BYTES)
    }
}

/// What `classify` found for one image.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Prediction {
    /// Index of the winning class: the first maximum of `logits`.
    pub class: usize,
    /// Integer logits, all at the model's common scale
    /// ([`Model::logit_scale`], `2^-16` for files written by the trainer): exact, and
    /// comparable across classes.
    pub logits: [i32; CLASSES],
    /// Softmax of the logits (precision: [`softmax::PRECISION`](crate::softmax::PRECISION)).
    pub probabilities: [f32; CLASSES],
}

/// A validated int8 model whose tensors are borrowed from the file's bytes.
#[derive(Clone, Copy)]
pub struct Model<'a> {
    variant: Variant,
    dataset: Dataset,
    class_names: [&'a str; CLASSES],
    conv: Conv<'a>,
    /// `[band][unit]` rows of `BAND_LEN` weights; length checked against the variant.
    hidden_weights: &'a [[u8; BAND_LEN]],
    hidden: ChannelParams<'a, HIDDEN>,
    output_weights: &'a [[u8; HIDDEN]; CLASSES],
    output: ChannelParams<'a, CLASSES>,
    logit_scale: f32,
    file_bytes: usize,
    tensor_bytes: usize,
}

impl fmt::Debug for Model<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Model")
            .field("variant", &self.variant)
            .field("dataset", &self.dataset)
            .field("file_bytes", &self.file_bytes)
            .finish_non_exhaustive()
    }
}

/// Checks a tensor's length and views it as an array reference.
fn exact<'a, const N: usize>(bytes: &'a [u8], tensor: &'static str) -> Result<&'a [u8; N]> {
    bytes.try_into().map_err(|_| Error::ShapeMismatch {
        tensor,
        expected: N,
        found: bytes.len(),
    })
}

/// Tensor names of one layer, for error messages.
struct Names {
    weights: &'static str,
    weight_scale: &'static str,
    bias: &'static str,
    multiplier: &'static str,
    shift: &'static str,
    out_scale: &'static str,
}

/// The [`Names`] of layer `$layer`'s tensors, `"$layer.weights"` and so on.
macro_rules! names {
    ($layer:literal) => {
        Names {
            weights: concat!($layer, ".weights"),
            weight_scale: concat!($layer, ".weight_scale"),
            bias: concat!($layer, ".bias"),
            multiplier: concat!($layer, ".multiplier"),
            shift: concat!($layer, ".shift"),
            out_scale: concat!($layer, ".out_scale"),
        }
    };
}

const CONV: Names = names!("conv");
const HIDDEN_LAYER: Names = names!("hidden");
const OUTPUT: Names = names!("output");

/// Views `bytes` as `N` rows of `M` bytes, or names the tensor whose length is wrong.
fn rows<'a, const M: usize, const N: usize>(
    bytes: &'a [u8],
    tensor: &'static str,
) -> Result<&'a [[u8; M]; N]> {
    let mismatch = Error::ShapeMismatch {
        tensor,
        expected: M * N,
        found: bytes.len(),
    };
    let (chunks, rest) = bytes.as_chunks::<M>();
    if !rest.is_empty() {
        return Err(mismatch);
    }
    chunks.try_into().map_err(|_| mismatch)
}

/// Validates a layer's per-channel parameters.
fn channel_params<'a, const N: usize>(
    layer: &LayerFile<'a>,
    names: &Names,
) -> Result<ChannelParams<'a, N>> {
    let _: &[[u8; 4]; N] = rows(layer.weight_scale, names.weight_scale)?;
    let bias = rows::<4, N>(layer.bias, names.bias)?;
    let multiplier = rows::<4, N>(layer.multiplier, names.multiplier)?;
    let shift = exact::<N>(layer.shift, names.shift)?;
    if bias
        .iter()
        .any(|b| i32::from_le_bytes(*b).unsigned_abs() > BIAS_LIMIT.unsigned_abs())
    {
        return Err(Error::ModelQuantization { what: names.bias });
    }
    if multiplier.iter().any(|m| i32::from_le_bytes(*m) < 0) {
        return Err(Error::ModelQuantization {
            what: names.multiplier,
        });
    }
    if shift.iter().any(|s| !(MIN_SHIFT..=MAX_SHIFT).contains(s)) {
        return Err(Error::ModelQuantization { what: names.shift });
    }
    if !(layer.out_scale.is_finite() && layer.out_scale > 0.0) {
        return Err(Error::ModelQuantization {
            what: names.out_scale,
        });
    }
    Ok(ChannelParams {
        bias,
        multiplier,
        shift,
        zero_point: layer.out_zero_point,
    })
}

fn layer_bytes(layer: &LayerFile<'_>) -> usize {
    layer.weights.len()
        + layer.weight_scale.len()
        + layer.bias.len()
        + layer.multiplier.len()
        + layer.shift.len()
}

impl<'a> Model<'a> {
    /// Validates a model file once and borrows its tensors in place.
    ///
    /// Checks, in order: magic, format version, length, CRC32, structure, variant and
    /// dataset codes, dimensions, every tensor's length for the variant, and every
    /// quantization parameter's range. After this, [`Model::classify`] cannot fail except
    /// on the image length. Costs one pass of CRC32 over the file; see
    /// [`Model::from_trusted_bytes`] to skip it on later boots.
    ///
    /// # Errors
    /// [`Error::ModelBadMagic`], [`Error::ModelVersion`], [`Error::ModelTruncated`],
    /// [`Error::ModelChecksum`], [`Error::ModelMalformed`], [`Error::ModelTrailingBytes`],
    /// [`Error::ModelVariant`], [`Error::ModelDataset`], [`Error::ModelDimension`],
    /// [`Error::ShapeMismatch`] or [`Error::ModelQuantization`].
    pub fn from_bytes(bytes: &'a [u8]) -> Result<Self> {
        Self::from_file(ModelFile::decode_with(bytes, Integrity::Crc)?, bytes.len())
    }

    /// [`Model::from_bytes`] without the CRC32, for bytes whose checksum was verified
    /// before and cannot have changed since (weights in flash that passed `from_bytes` at
    /// the first boot or at flashing time). Everything else is checked as by `from_bytes`,
    /// so damaged bytes still give an error or wrong numbers, never a panic or an
    /// out-of-bounds read.
    ///
    /// # Errors
    /// As [`Model::from_bytes`], except [`Error::ModelChecksum`].
    pub fn from_trusted_bytes(bytes: &'a [u8]) -> Result<Self> {
        Self::from_file(
            ModelFile::decode_with(bytes, Integrity::Trusted)?,
            bytes.len(),
        )
    }

    /// Checks a decoded file's values and shapes and borrows its tensors.
    fn from_file(file: ModelFile<'a>, file_bytes: usize) -> Result<Self> {
        let variant = Variant::from_code(file.variant)?;
        let dataset = Dataset::from_code(file.dataset)?;
        file.dimensions.check(variant)?;
        if file.input_zero_point != INPUT_ZERO_POINT {
            return Err(Error::ModelQuantization {
                what: "input_zero_point",
            });
        }
        if !(file.input_scale.is_finite() && file.input_scale > 0.0) {
            return Err(Error::ModelQuantization {
                what: "input_scale",
            });
        }

        let conv_weights =
            rows::<CONV_GROUP, { CONV_WEIGHTS / CONV_GROUP }>(file.conv.weights, CONV.weights)?;
        let conv = Conv {
            weights: conv_weights
                .as_chunks::<KERNEL_TAPS>()
                .0
                .try_into()
                .map_err(|_| Error::ShapeMismatch {
                    tensor: CONV.weights,
                    expected: CONV_WEIGHTS,
                    found: file.conv.weights.len(),
                })?,
            params: channel_params(&file.conv, &CONV)?,
        };

        let hidden_len = crate::layout::hidden_weights(variant);
        let (hidden_weights, rest) = file.hidden.weights.as_chunks::<BAND_LEN>();
        if file.hidden.weights.len() != hidden_len || !rest.is_empty() {
            return Err(Error::ShapeMismatch {
                tensor: HIDDEN_LAYER.weights,
                expected: hidden_len,
                found: file.hidden.weights.len(),
            });
        }
        let hidden = channel_params(&file.hidden, &HIDDEN_LAYER)?;

        let output_weights =
            rows::<HIDDEN, { OUTPUT_WEIGHTS / HIDDEN }>(file.output.weights, OUTPUT.weights)?;
        let output = channel_params(&file.output, &OUTPUT)?;
        if file.output.out_zero_point != 0 {
            return Err(Error::ModelQuantization {
                what: "output.out_zero_point",
            });
        }

        Ok(Model {
            variant,
            dataset,
            class_names: file.class_names,
            conv,
            hidden_weights,
            hidden,
            output_weights,
            output,
            logit_scale: file.output.out_scale,
            file_bytes,
            tensor_bytes: layer_bytes(&file.conv)
                + layer_bytes(&file.hidden)
                + layer_bytes(&file.output),
        })
    }

    /// The network variant.
    pub fn variant(&self) -> Variant {
        self.variant
    }

    /// The dataset the model was trained on.
    pub fn dataset(&self) -> Dataset {
        self.dataset
    }

    /// The class names stored in the file, in label order.
    pub fn class_names(&self) -> [&'a str; CLASSES] {
        self.class_names
    }

    /// Real value of one integer logit step (`2^-16` in files written by the trainer).
    pub fn logit_scale(&self) -> f32 {
        self.logit_scale
    }

    /// Size of the whole model file, in bytes (the flash it occupies).
    pub fn file_bytes(&self) -> usize {
        self.file_bytes
    }

    /// Bytes of tensors (weights, biases, requantization parameters) in the file.
    pub fn tensor_bytes(&self) -> usize {
        self.tensor_bytes
    }

    /// Classifies one 28x28 image (row-major, one byte per pixel, 0 = background).
    ///
    /// # Errors
    /// [`Error::ImageSize`] if `pixels` does not hold exactly 784 bytes; nothing else.
    pub fn classify(&self, pixels: &[u8], scratch: &mut Scratch) -> Result<Prediction> {
        let image: &[u8; IMAGE_PIXELS] = pixels.try_into().map_err(|_| Error::ImageSize {
            expected: IMAGE_PIXELS,
            found: pixels.len(),
        })?;
        let logits = self.logits(image, scratch);
        let mut class = 0;
        for (k, &l) in logits.iter().enumerate() {
            if l > logits.get(class).copied().unwrap_or(i32::MIN) {
                class = k;
            }
        }
        Ok(Prediction {
            class,
            logits,
            probabilities: softmax(&logits, self.logit_scale),
        })
    }

    /// The integer logits of one image: fused conv + ReLU (+ pool) streamed band by band
    /// into the hidden layer, then the output layer.
    fn logits(&self, image: &[u8; IMAGE_PIXELS], scratch: &mut Scratch) -> [i32; CLASSES] {
        self.hidden.load_biases(&mut scratch.hidden);
        match self.variant {
            Variant::NoPool => self.stream_conv(image, scratch),
            Variant::Pool => self.stream_pooled(image, scratch),
        }
        self.output_layer(scratch)
    }

    /// Variant A: each conv row is two bands of 13 positions. A band's activations are
    /// computed a filter group at a time over [`CONV_BATCH`] positions (each weight row
    /// loaded once per batch), then fed to the hidden accumulators.
    fn stream_conv(&self, image: &[u8; IMAGE_PIXELS], scratch: &mut Scratch) {
        let rows = image.as_chunks::<IMAGE_SIDE>().0;
        let mut bands = self.hidden_weights.chunks_exact(HIDDEN);
        for three in rows.windows(3) {
            let [r0, r1, r2] = three else {
                continue;
            };
            let mut patches = r0
                .windows(3)
                .zip(r1.windows(3))
                .zip(r2.windows(3))
                .map(|((a, b), c)| patch([a, b, c]));
            for _ in 0..CONV_SIDE / BAND_POSITIONS {
                let band = scratch.band.as_chunks_mut::<FILTERS>().0;
                for positions in band.as_chunks_mut::<CONV_BATCH>().0 {
                    let mut batch = [[0u8; KERNEL_TAPS]; CONV_BATCH];
                    for (dst, p) in batch.iter_mut().zip(patches.by_ref()) {
                        *dst = p;
                    }
                    for group in self.conv.groups() {
                        let acc = group.accumulate(&batch);
                        for (position, a) in positions.iter_mut().zip(&acc) {
                            if let Some(dst) = group_slice(position, group.index) {
                                group.relu_requantize(a, dst);
                            }
                        }
                    }
                }
                if let Some(weights) = bands.next() {
                    accumulate_band(&mut scratch.hidden, weights, &scratch.band);
                }
            }
        }
    }

    /// Variant B: each pooled row (13 positions, from two conv rows) is one band; each
    /// position's four conv outputs are computed together and max-pooled.
    fn stream_pooled(&self, image: &[u8; IMAGE_PIXELS], scratch: &mut Scratch) {
        let rows = image.as_chunks::<IMAGE_SIDE>().0;
        let mut bands = self.hidden_weights.chunks_exact(HIDDEN);
        for four in rows.windows(4).step_by(2) {
            let [r0, r1, r2, r3] = four else {
                continue;
            };
            let windows = r0
                .windows(4)
                .zip(r1.windows(4))
                .zip(r2.windows(4))
                .zip(r3.windows(4))
                .step_by(2)
                .map(|(((a, b), c), d)| window_patches([a, b, c, d]));
            let band = scratch.band.as_chunks_mut::<FILTERS>().0;
            for (position, patches) in band.iter_mut().zip(windows) {
                for group in self.conv.groups() {
                    let pooled = max_pool(&group.accumulate(&patches));
                    if let Some(dst) = group_slice(position, group.index) {
                        group.relu_requantize(&pooled, dst);
                    }
                }
            }
            if let Some(weights) = bands.next() {
                accumulate_band(&mut scratch.hidden, weights, &scratch.band);
            }
        }
    }

    /// Hidden ReLU, then the output layer requantized to the common logit scale.
    fn output_layer(&self, scratch: &mut Scratch) -> [i32; CLASSES] {
        // The band buffer is free now: it holds the hidden activations.
        let Some(x) = scratch.band.first_chunk_mut::<HIDDEN>() else {
            return [0; CLASSES];
        };
        self.hidden.relu_requantize(&scratch.hidden, x);
        let mut logits = [0i32; CLASSES];
        self.output.load_biases(&mut logits);
        for (((l, row), m), &s) in logits
            .iter_mut()
            .zip(self.output_weights)
            .zip(self.output.multiplier)
            .zip(self.output.shift)
        {
            let acc = l.wrapping_add(dot(row, x));
            // Validated at load: multiplier >= 0 and shift in range, so `new` succeeds.
            if let Some(m) = Multiplier::new(i32::from_le_bytes(*m), s) {
                *l = requantize(acc, m);
            }
        }
        logits
    }
}
