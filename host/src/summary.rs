//! The Keras-like model summary: per layer the output shape, parameters, MACs, int8
//! bytes and activation RAM, with totals.
//!
//! Every number is computed from the shape constants in [`picocnn::shape`], so the table
//! cannot drift from the network the core actually runs.

use std::fmt;

use picocnn::Variant;
use picocnn::shape::{CLASSES, CONV_SIDE, FILTERS, HIDDEN, IMAGE_SIDE, KERNEL_TAPS, POOL_SIDE};

/// Bytes stored per output channel besides the int8 weights, as `picocnn::format`
/// stores them: int32 bias, int32 requantization multiplier, one-byte shift, and the
/// f32 weight scale.
const BYTES_PER_CHANNEL: usize = 4 + 4 + 1 + 4;

/// One row of the summary table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayerRow {
    /// Layer name and activation, e.g. `"conv2d + ReLU"`.
    pub name: &'static str,
    /// Output shape without the batch dimension (height, width, channels, or units).
    pub shape: Vec<usize>,
    /// Trainable parameters of the float layer (weights and biases).
    pub params: usize,
    /// Multiply-accumulates per image.
    pub macs: usize,
    /// Bytes of the layer's tensors in `weights.bin`: int8 weights, int32 biases and the
    /// per-channel requantization parameters (multiplier, shift, weight scale).
    pub int8_bytes: usize,
    /// Bytes of the layer's int8 output tensor.
    pub output_bytes: usize,
    /// Activation bytes live while the layer runs in a plain layer-by-layer engine
    /// (input tensor + output tensor, as an arena planner such as TFLite Micro's needs).
    pub live_bytes: usize,
}

/// The summary of one variant: its layers and totals. `Display` prints the table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    /// The variant summarized.
    pub variant: Variant,
    /// The layers, input first, softmax last.
    pub layers: Vec<LayerRow>,
    /// Peak activation RAM of picocnn's fused streaming inference (`picocnn::Scratch`).
    pub fused_ram_bytes: usize,
    /// Size of an actual model file, when the summary describes one (set by the caller,
    /// e.g. from `picocnn::Model::file_bytes`); printed with the tensor bytes.
    pub file_bytes: Option<usize>,
}

impl Summary {
    /// Total trainable parameters.
    pub fn params(&self) -> usize {
        self.layers.iter().map(|l| l.params).sum()
    }

    /// Total multiply-accumulates per image.
    pub fn macs(&self) -> usize {
        self.layers.iter().map(|l| l.macs).sum()
    }

    /// Total bytes of the tensors in `weights.bin` (what `picocnn::Model::tensor_bytes`
    /// reports for a file of this variant).
    pub fn int8_bytes(&self) -> usize {
        self.layers.iter().map(|l| l.int8_bytes).sum()
    }

    /// Peak activation RAM of a layer-by-layer engine: the largest input + output pair.
    pub fn layerwise_ram_bytes(&self) -> usize {
        self.layers.iter().map(|l| l.live_bytes).max().unwrap_or(0)
    }
}

/// Builds the summary of `variant` from the shape constants.
pub fn summary(variant: Variant) -> Summary {
    let input = IMAGE_SIDE * IMAGE_SIDE;
    let conv_out = CONV_SIDE * CONV_SIDE * FILTERS;
    let flat = variant.flat_len();

    let mut layers = vec![
        LayerRow {
            name: "input (uint8 pixels)",
            shape: vec![IMAGE_SIDE, IMAGE_SIDE, 1],
            params: 0,
            macs: 0,
            int8_bytes: 0,
            output_bytes: input,
            live_bytes: input,
        },
        LayerRow {
            name: "conv2d 3x3 + ReLU",
            shape: vec![CONV_SIDE, CONV_SIDE, FILTERS],
            params: FILTERS * KERNEL_TAPS + FILTERS,
            macs: conv_out * KERNEL_TAPS,
            int8_bytes: dense_like_bytes(KERNEL_TAPS, FILTERS),
            output_bytes: conv_out,
            live_bytes: input + conv_out,
        },
    ];
    if variant == Variant::Pool {
        let pooled = POOL_SIDE * POOL_SIDE * FILTERS;
        layers.push(LayerRow {
            name: "max_pool 2x2",
            shape: vec![POOL_SIDE, POOL_SIDE, FILTERS],
            params: 0,
            macs: 0,
            int8_bytes: 0,
            output_bytes: pooled,
            live_bytes: conv_out + pooled,
        });
    }
    layers.extend([
        // A reshape: engines alias its output to its input, so it adds no RAM.
        LayerRow {
            name: "flatten",
            shape: vec![flat],
            params: 0,
            macs: 0,
            int8_bytes: 0,
            output_bytes: flat,
            live_bytes: flat,
        },
        LayerRow {
            name: "dense + ReLU",
            shape: vec![HIDDEN],
            params: flat * HIDDEN + HIDDEN,
            macs: flat * HIDDEN,
            int8_bytes: dense_like_bytes(flat, HIDDEN),
            output_bytes: HIDDEN,
            live_bytes: flat + HIDDEN,
        },
        LayerRow {
            name: "dense (logits)",
            shape: vec![CLASSES],
            params: HIDDEN * CLASSES + CLASSES,
            macs: HIDDEN * CLASSES,
            int8_bytes: dense_like_bytes(HIDDEN, CLASSES),
            output_bytes: CLASSES,
            live_bytes: HIDDEN + CLASSES,
        },
        LayerRow {
            name: "softmax",
            shape: vec![CLASSES],
            params: 0,
            macs: 0,
            int8_bytes: 0,
            output_bytes: CLASSES,
            live_bytes: CLASSES + CLASSES,
        },
    ]);
    Summary {
        variant,
        layers,
        fused_ram_bytes: picocnn::Scratch::BYTES,
        file_bytes: None,
    }
}

/// Tensor bytes of a layer with `inputs` int8 weights per output and `outputs` channels.
const fn dense_like_bytes(inputs: usize, outputs: usize) -> usize {
    inputs * outputs + outputs * BYTES_PER_CHANNEL
}

/// Human-readable bytes: "784 B", "21.1 KiB", "2.64 MiB".
pub fn format_bytes(bytes: usize) -> String {
    const KIB: f64 = 1024.0;
    let b = bytes as f64;
    if b < KIB {
        format!("{bytes} B")
    } else if b < KIB * KIB {
        format!("{:.1} KiB", b / KIB)
    } else {
        format!("{:.2} MiB", b / (KIB * KIB))
    }
}

fn format_shape(shape: &[usize]) -> String {
    let dims: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
    format!("({})", dims.join(", "))
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (letter, description) = match self.variant {
            Variant::NoPool => ("A", "conv -> dense 128 -> dense 10"),
            Variant::Pool => ("B", "conv -> max-pool -> dense 128 -> dense 10"),
        };
        let g = |n: usize| group_thousands(n as u64);
        let rule =
            |f: &mut fmt::Formatter<'_>, c: char| writeln!(f, "{}", c.to_string().repeat(98));
        writeln!(
            f,
            "Model: \"{}\" (variant {letter}: {description})",
            self.variant.name()
        )?;
        rule(f, '_')?;
        writeln!(
            f,
            " {:<22}{:<16}{:>12}{:>12}{:>13}{:>11}{:>12}",
            "Layer (type)",
            "Output shape",
            "Params",
            "MACs",
            "int8 bytes",
            "out bytes",
            "live bytes"
        )?;
        rule(f, '=')?;
        for layer in &self.layers {
            writeln!(
                f,
                " {:<22}{:<16}{:>12}{:>12}{:>13}{:>11}{:>12}",
                layer.name,
                format_shape(&layer.shape),
                g(layer.params),
                g(layer.macs),
                g(layer.int8_bytes),
                g(layer.output_bytes),
                g(layer.live_bytes),
            )?;
        }
        rule(f, '=')?;
        writeln!(
            f,
            " {:<38}{:>12}{:>12}{:>13}{:>11}{:>12}",
            "Total",
            g(self.params()),
            g(self.macs()),
            g(self.int8_bytes()),
            "",
            format!("max {}", g(self.layerwise_ram_bytes())),
        )?;
        rule(f, '_')?;
        writeln!(
            f,
            "int8 bytes: int8 weights + int32 biases + requantization parameters, as stored.\n\
             out bytes: the layer's int8 output. live bytes: its input and output, held together\n\
             while the layer runs in a layer-by-layer engine (an arena such as TFLite Micro's).\n"
        )?;
        writeln!(
            f,
            "Total params: {} ({} as f32, {} as int8 tensors)",
            g(self.params()),
            format_bytes(self.params() * 4),
            format_bytes(self.int8_bytes()),
        )?;
        writeln!(f, "MACs per image: {}", g(self.macs()))?;
        if let Some(file) = self.file_bytes {
            writeln!(
                f,
                "Model file: {} B ({} B tensors + {} B header, class names, scales, CRC)",
                g(file),
                g(self.int8_bytes()),
                g(file.saturating_sub(self.int8_bytes())),
            )?;
        }
        writeln!(
            f,
            "Activation RAM: {} B layer by layer (peak live bytes), \
             {} B picocnn fused streaming (picocnn::Scratch)",
            g(self.layerwise_ram_bytes()),
            g(self.fused_ram_bytes),
        )
    }
}

/// Formats `n` with thousands separators: 2770634 -> "2,770,634".
pub fn group_thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}
