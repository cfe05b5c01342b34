//! A validated model borrowed from its bytes, the scratch RAM, and `classify`.

use crate::conv::{Conv, conv_band, pooled_band};
use crate::dense::{Band, BandWeights, OutputWeights, hidden_band, output_layer};
use crate::error::{Error, Result};
use crate::format::{Integrity, LayerFile, ModelFile};
use crate::layout::{BAND_LEN, BAND_POSITIONS, CONV_WEIGHTS, OUTPUT_WEIGHTS};
use crate::prediction::{Logits, Prediction};
use crate::quant::{ChannelParams, MAX_SHIFT, MIN_SHIFT};
use crate::shape::{
    CLASSES, CONV_SIDE, Dataset, FILTERS, HIDDEN, IMAGE_PIXELS, IMAGE_SIDE, Variant,
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
#[repr(C)]
pub struct Scratch {
    /// Hidden-layer accumulators.
    hidden: [i32; HIDDEN],
    /// The current band's activations minus their zero point; at the end, the hidden
    /// layer's activations. 4-byte aligned (`repr(C)`, after the i32s): the `dsp`
    /// kernel loads it with `LDRD`.
    band: Band,
}

const _: () = assert!(core::mem::offset_of!(Scratch, band).is_multiple_of(4));

impl Scratch {
    /// Bytes of activation RAM, the same for both variants (1,344: the 416 i16 of a band
    /// and the 128 i32 accumulators).
    pub const BYTES: usize = core::mem::size_of::<Scratch>();

    /// Zeroed scratch buffers.
    pub const fn new() -> Self {
        Scratch {
            band: [[0; 2]; BAND_LEN],
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

/// A validated int8 model whose tensors are borrowed from the file's bytes.
#[derive(Clone, Copy)]
pub struct Model<'a> {
    variant: Variant,
    dataset: Dataset,
    class_names: [&'a str; CLASSES],
    conv: Conv<'a>,
    /// One entry per band; length checked against the variant.
    hidden_weights: &'a [BandWeights],
    hidden: ChannelParams<'a, HIDDEN>,
    output_weights: &'a OutputWeights,
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

/// Bytes of a machine word: [`first_weight_out_of_range`] looks at this many at a time.
const WORD: usize = core::mem::size_of::<usize>();
/// `0x0101...01`: one in every byte of a word.
const ONES: usize = usize::MAX / 0xff;
/// `0x8080...80`: the top bit of every byte of a word.
const HIGHS: usize = ONES * 0x80;

/// Bytes looked at before one test: four words, so that the test and the branch are paid
/// once per four loads.
const BLOCK: usize = 4 * WORD;

/// Non-zero in the top bit of a byte if that byte of `word` may be `0x80` (exactly when
/// one is; a byte after one may be flagged too): `x ^ HIGHS` turns every `0x80` byte into
/// a zero byte, and `(y - ONES) & !y` sets the top bit of the lowest zero byte.
const fn minus_128_flags(word: usize) -> usize {
    let y = word ^ HIGHS;
    y.wrapping_sub(ONES) & !y
}

/// Position of the first weight outside `-127..=127` in `weights` (int8 stored as bytes):
/// the first byte `0x80`, which is -128. Four words at a time ([`minus_128_flags`] of
/// each, combined, tested once); only a block that has one is searched byte by byte.
fn first_weight_out_of_range(weights: &[u8]) -> Option<usize> {
    let (blocks, tail) = weights.as_chunks::<BLOCK>();
    for (n, block) in blocks.iter().enumerate() {
        let flags = block.as_chunks::<WORD>().0.iter().fold(0, |flags, word| {
            flags | minus_128_flags(usize::from_ne_bytes(*word))
        });
        if flags & HIGHS != 0
            && let Some(at) = block.iter().position(|&b| b == 0x80)
        {
            return Some(n * BLOCK + at);
        }
    }
    let start = blocks.len() * BLOCK;
    tail.iter().position(|&b| b == 0x80).map(|at| start + at)
}

/// Checks that every weight of the three layers is in `-127..=127`, the range the format
/// documents and the exporter writes (quantization is symmetric: -128 has no positive
/// twin).
fn check_weight_range(file: &ModelFile<'_>) -> Result<()> {
    for (weights, tensor) in [
        (file.conv.weights, CONV.weights),
        (file.hidden.weights, HIDDEN_LAYER.weights),
        (file.output.weights, OUTPUT.weights),
    ] {
        if let Some(index) = first_weight_out_of_range(weights) {
            return Err(Error::ModelWeightRange { tensor, index });
        }
    }
    Ok(())
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
    /// Checks, in order: magic, format version, length, CRC32, structure, that every
    /// weight is in `-127..=127`, variant and dataset codes, dimensions, every tensor's
    /// length for the variant, and every quantization parameter's range. After this,
    /// [`Model::classify`] cannot fail except on the image length. Costs two passes over
    /// the file (the CRC32, and the weight scan, a machine word at a time); see
    /// [`Model::from_trusted_bytes`] to skip both on later boots.
    ///
    /// # Errors
    /// [`Error::ModelBadMagic`], [`Error::ModelVersion`], [`Error::ModelTruncated`],
    /// [`Error::ModelHeader`], [`Error::ModelChecksum`], [`Error::ModelMalformed`],
    /// [`Error::ModelTrailingBytes`], [`Error::ModelVariant`], [`Error::ModelDataset`],
    /// [`Error::ModelDimension`], [`Error::ShapeMismatch`], [`Error::ModelQuantization`]
    /// or [`Error::ModelWeightRange`].
    pub fn from_bytes(bytes: &'a [u8]) -> Result<Self> {
        let file = ModelFile::decode_with(bytes, Integrity::Crc)?;
        check_weight_range(&file)?;
        Self::from_file(file, bytes.len())
    }

    /// [`Model::from_bytes`] without its two passes over every byte, the CRC32 and the
    /// weight-range scan, for bytes that passed `from_bytes` before and cannot have
    /// changed since (weights in flash checked at the first boot or at flashing time).
    ///
    /// The weight scan goes with the checksum, not with the structure, because neither
    /// protects the inference: they tell whether the bytes are the ones the exporter
    /// wrote. A -128 weight (never exported: quantization is symmetric) cannot make an
    /// accumulator overflow ([`BIAS_LIMIT`] allows for it) nor an index go out of
    /// bounds; like a flipped bit that the CRC would have caught, it only gives wrong
    /// numbers. Everything the loops rely on (header, lengths, codes, dimensions, shapes,
    /// parameter ranges) is checked as by `from_bytes`, so damaged bytes still give an
    /// error or wrong numbers, never a panic or an out-of-bounds read.
    ///
    /// # Errors
    /// As [`Model::from_bytes`], except [`Error::ModelChecksum`] and
    /// [`Error::ModelWeightRange`].
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

        let conv = Conv {
            weights: rows::<FILTERS, { CONV_WEIGHTS / FILTERS }>(file.conv.weights, CONV.weights)?,
            params: channel_params(&file.conv, &CONV)?,
        };

        let hidden_len = crate::layout::hidden_weights(variant);
        let (unit_rows, rest) = file.hidden.weights.as_chunks::<BAND_LEN>();
        let (hidden_weights, rows_left) = unit_rows.as_chunks::<HIDDEN>();
        if file.hidden.weights.len() != hidden_len || !rest.is_empty() || !rows_left.is_empty() {
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

    /// The class and integer logits of one 28x28 image (row-major, one byte per pixel,
    /// 0 = background): the firmware's entry. It cannot fail and uses no floating point;
    /// [`Model::probabilities`] is the separate step that does.
    ///
    /// ```
    /// # fn demo(model: &picocnn::Model<'_>, image: &[u8; 784]) {
    /// use picocnn::Scratch;
    /// let mut scratch = Scratch::new();
    /// let logits = model.infer(image, &mut scratch);
    /// assert!(logits.class < 10);
    /// # }
    /// ```
    pub fn infer(&self, image: &[u8; IMAGE_PIXELS], scratch: &mut Scratch) -> Logits {
        Logits::new(self.logits(image, scratch))
    }

    /// Softmax probabilities of `logits` (from [`Model::infer`] with this model), with
    /// the precision of [`softmax::PRECISION`](crate::softmax::PRECISION). On a
    /// microcontroller without an FPU this is ten software `exp`s.
    pub fn probabilities(&self, logits: &Logits) -> [f32; CLASSES] {
        softmax(&logits.values, self.logit_scale)
    }

    /// [`Model::infer`] and [`Model::probabilities`] in one call.
    pub fn predict(&self, image: &[u8; IMAGE_PIXELS], scratch: &mut Scratch) -> Prediction {
        let logits = self.infer(image, scratch);
        Prediction {
            class: logits.class,
            logits: logits.values,
            probabilities: self.probabilities(&logits),
        }
    }

    /// [`Model::predict`] for an image given as a slice (e.g. read from a file).
    ///
    /// # Errors
    /// [`Error::ImageSize`] if `pixels` does not hold exactly 784 bytes; nothing else.
    pub fn classify(&self, pixels: &[u8], scratch: &mut Scratch) -> Result<Prediction> {
        let image: &[u8; IMAGE_PIXELS] = pixels.try_into().map_err(|_| Error::ImageSize {
            expected: IMAGE_PIXELS,
            found: pixels.len(),
        })?;
        Ok(self.predict(image, scratch))
    }

    /// The integer logits of one image: fused conv + ReLU (+ pool) streamed band by band
    /// into the hidden layer, then the output layer.
    fn logits(&self, image: &[u8; IMAGE_PIXELS], scratch: &mut Scratch) -> [i32; CLASSES] {
        // A firmware's `static` Scratch has a fixed address; propagated into the kernels
        // (link-time optimization does), it is rebuilt with two instructions in every
        // inner-loop iteration instead of living in a register. Hiding it costs nothing.
        let scratch = core::hint::black_box(scratch);
        self.hidden.load_biases(&mut scratch.hidden);
        let rows = image.as_chunks::<IMAGE_SIDE>().0;
        let mut bands = self.hidden_weights.iter();
        let mut feed = |scratch: &mut Scratch| {
            if let Some(weights) = bands.next() {
                hidden_band(&mut scratch.hidden, weights, &scratch.band);
            }
        };
        match self.variant {
            // Each conv row is two bands of 13 positions.
            Variant::NoPool => {
                for three in rows.windows(3) {
                    if let [r0, r1, r2] = three {
                        for first in [0, BAND_POSITIONS] {
                            conv_band(&self.conv, [r0, r1, r2], first, &mut scratch.band);
                            feed(scratch);
                        }
                    }
                }
            }
            // Each pooled row (13 positions, from two conv rows) is one band.
            Variant::Pool => {
                for four in rows.windows(4).step_by(2) {
                    if let [r0, r1, r2, r3] = four {
                        pooled_band(&self.conv, [r0, r1, r2, r3], &mut scratch.band);
                        feed(scratch);
                    }
                }
            }
        }
        output_layer(
            &self.hidden,
            &scratch.hidden,
            &mut scratch.band,
            self.output_weights,
            &self.output,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The word-wise scan finds the first -128 at every position of whole words and of the
    /// tail, among neighbours that look like it (0x7f, 0x81, 0x00, 0xff, 0x01), and
    /// finds nothing in any other byte value.
    #[test]
    fn the_weight_scan_finds_the_first_minus_128_and_nothing_else() {
        let mut others = [0u8; 255];
        for (b, value) in others.iter_mut().zip((0..=255u8).filter(|&b| b != 0x80)) {
            *b = value;
        }
        assert_eq!(first_weight_out_of_range(&others), None);
        const MAX: usize = 3 * WORD + 3;
        for fill in [0x00, 0x01, 0x7f, 0x81, 0xff] {
            for len in 0..MAX {
                let clean = [fill; MAX];
                assert_eq!(first_weight_out_of_range(&clean[..len]), None);
                for at in 0..len {
                    let mut weights = clean;
                    weights[at] = 0x80;
                    if let Some(later) = weights.get_mut(at + WORD + 1) {
                        *later = 0x80;
                    }
                    assert_eq!(
                        first_weight_out_of_range(&weights[..len]),
                        Some(at),
                        "fill {fill:#x}, length {len}"
                    );
                }
            }
        }
    }
}
