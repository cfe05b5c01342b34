//! The file format, byte for byte: a tiny hand-made model encodes to exactly the bytes
//! below and decodes back to itself; a hand-made full-size model classifies to logits
//! worked out by hand.

use picocnn::format::{Dimensions, LayerFile, ModelFile, crc32};
use picocnn::layout::{conv_index, hidden_index, output_index};
use picocnn::shape::{FILTERS, HIDDEN, KERNEL_TAPS};
use picocnn::{Dataset, Error, Model, Scratch, Variant};

const ONE: [u8; 4] = 1.0f32.to_le_bytes();

fn tiny() -> ModelFile<'static> {
    let layer = |weights: &'static [u8], out_zero_point| LayerFile {
        weights,
        weight_scale: &ONE,
        bias: &[0xfe, 0xff, 0xff, 0xff], // -2
        multiplier: &[0, 0, 0, 0x40],    // 2^30
        shift: &[31],                    // 0.5
        out_scale: 0.25,
        out_zero_point,
    };
    ModelFile {
        variant: Variant::Pool.code(),
        dataset: Dataset::Mnist.code(),
        dimensions: Dimensions::of(Variant::Pool),
        class_names: Dataset::Mnist.class_names(),
        input_scale: 0.5,
        input_zero_point: -128,
        conv: layer(&[0x01, 0x81], -128),
        hidden: layer(&[0x7f], -128),
        output: layer(&[], 0),
    }
}

/// The expected encoding, field by field (postcard: varint lengths, f32 little-endian).
const GOLDEN: &[u8] = &[
    b'P', b'C', b'N', b'N', // magic
    0x02, // version 2 (varint)
    0x6a, // length of what follows, before the checksum: 106 (varint)
    0x01, // variant: Pool
    0x00, // dataset: MNIST
    0x1c, 0x20, 0x03, 0x02, // dimensions: input side 28, filters 32, kernel side 3, pool 2
    0x80, 0x01, 0x0a, // hidden 128 (two-byte varint), classes 10
    0x01, b'0', 0x01, b'1', 0x01, b'2', 0x01, b'3', 0x01,
    b'4', // class names, length-prefixed
    0x01, b'5', 0x01, b'6', 0x01, b'7', 0x01, b'8', 0x01, b'9', 0x00, 0x00, 0x00,
    0x3f, // input_scale 0.5
    0x80, // input_zero_point -128
    // conv
    0x02, 0x01, 0x81, // weights [1, -127]
    0x04, 0x00, 0x00, 0x80, 0x3f, // weight_scale [1.0]
    0x04, 0xfe, 0xff, 0xff, 0xff, // bias [-2]
    0x04, 0x00, 0x00, 0x00, 0x40, // multiplier [2^30]
    0x01, 0x1f, // shift [31]
    0x00, 0x00, 0x80, 0x3e, // out_scale 0.25
    0x80, // out_zero_point -128
    // hidden
    0x01, 0x7f, //
    0x04, 0x00, 0x00, 0x80, 0x3f, //
    0x04, 0xfe, 0xff, 0xff, 0xff, //
    0x04, 0x00, 0x00, 0x00, 0x40, //
    0x01, 0x1f, //
    0x00, 0x00, 0x80, 0x3e, //
    0x80, //
    // output
    0x00, // no weights
    0x04, 0x00, 0x00, 0x80, 0x3f, //
    0x04, 0xfe, 0xff, 0xff, 0xff, //
    0x04, 0x00, 0x00, 0x00, 0x40, //
    0x01, 0x1f, //
    0x00, 0x00, 0x80, 0x3e, //
    0x00, // out_zero_point 0
];

#[test]
fn tiny_model_encodes_to_golden_bytes_and_back() {
    let mut buf = [0u8; 256];
    let len = tiny().encode(&mut buf).unwrap();
    let (body, crc) = buf[..len].split_at(len - 4);
    assert_eq!(body, GOLDEN);
    assert_eq!(crc, crc32(GOLDEN).to_le_bytes());
    assert_eq!(
        crc,
        [0x6b, 0xa1, 0x65, 0x94],
        "CRC-32/ISO-HDLC (zlib's) of the golden body"
    );

    assert_eq!(ModelFile::decode(&buf[..len]).unwrap(), tiny());
    // Structurally fine, but the tensors are far too small for variant B.
    assert_eq!(
        Model::from_bytes(&buf[..len]).unwrap_err(),
        Error::ShapeMismatch {
            tensor: "conv.weights",
            expected: KERNEL_TAPS * FILTERS,
            found: 2
        }
    );
}

#[test]
fn encoding_into_a_short_buffer_fails_cleanly() {
    let mut buf = [0u8; GOLDEN.len() + 3];
    assert_eq!(tiny().encode(&mut buf), Err(Error::EncodeBufferTooSmall));
    let mut buf = [0u8; 10];
    assert_eq!(tiny().encode(&mut buf), Err(Error::EncodeBufferTooSmall));
}

#[test]
fn header_errors_are_typed() {
    let mut buf = [0u8; 256];
    let len = tiny().encode(&mut buf).unwrap();
    let good = &buf[..len];

    assert_eq!(Model::from_bytes(b"").unwrap_err(), Error::ModelTruncated);
    assert_eq!(Model::from_bytes(b"PC").unwrap_err(), Error::ModelTruncated);
    assert_eq!(
        Model::from_bytes(b"PCNN\x02").unwrap_err(),
        Error::ModelTruncated
    );
    assert_eq!(Model::from_bytes(b"PX").unwrap_err(), Error::ModelBadMagic);
    // A header whose length (or version) is not a varint: damaged before any checksum,
    // which the message must not claim to have matched.
    for header in [
        &b"PCNN\x02\xff\xff\xff\xff\xff\xff"[..],
        b"PCNN\x02\x80\x80\x80\x80\x80\x80",
        b"PCNN\xff\xff\xff\x02\x00\x00\x00",
    ] {
        let error = Model::from_bytes(header).unwrap_err();
        assert_eq!(error, Error::ModelHeader, "{header:x?}");
        assert!(!error.to_string().contains("checksum"), "{error}");
    }
    assert_eq!(
        Model::from_bytes(b"\x89PNG....").unwrap_err(),
        Error::ModelBadMagic
    );

    // Version first, so a newer file is reported as such whatever else changed.
    let mut newer = good.to_vec();
    newer[4] = 3;
    let error = Model::from_bytes(&newer).unwrap_err();
    assert_eq!(
        error,
        Error::ModelVersion {
            found: 3,
            expected: 2
        }
    );
    assert!(error.to_string().contains("newer"), "{error}");
    // A version-1 file (no dimensions, another weight order) asks for a new export.
    let mut older = good.to_vec();
    older[4] = 1;
    let error = Model::from_bytes(&older).unwrap_err();
    assert_eq!(
        error,
        Error::ModelVersion {
            found: 1,
            expected: 2
        }
    );
    assert!(
        error.to_string().contains("retrain or re-export"),
        "{error}"
    );

    let mut longer = good.to_vec();
    longer.push(0);
    assert_eq!(
        Model::from_bytes(&longer).unwrap_err(),
        Error::ModelTrailingBytes
    );

    for cut in 0..len {
        assert_eq!(
            Model::from_bytes(&good[..cut]).unwrap_err(),
            Error::ModelTruncated,
            "{cut}"
        );
    }

    // Every byte of the payload and the checksum is covered by the CRC.
    for at in 6..len {
        let mut flipped = good.to_vec();
        flipped[at] ^= 0x10;
        assert!(
            matches!(
                Model::from_bytes(&flipped).unwrap_err(),
                Error::ModelChecksum { .. }
            ),
            "byte {at}"
        );
    }
}

/// Re-encodes `file` with a fresh checksum: a well-formed file with bad values.
fn reencode(file: &ModelFile<'_>) -> Vec<u8> {
    let mut buf = vec![0u8; 4_000_000];
    let len = file.encode(&mut buf).unwrap();
    buf.truncate(len);
    buf
}

/// Tensors of a full-size variant-B model whose every value is simple enough to follow
/// by hand (see `hand_made_model_gives_hand_computed_logits`).
struct HandMade {
    conv_weights: Vec<u8>,
    conv_words: Vec<u8>,
    conv_mult: Vec<u8>,
    conv_shift: Vec<u8>,
    conv_bias: Vec<u8>,
    hidden_weights: Vec<u8>,
    hidden_words: Vec<u8>,
    hidden_mult: Vec<u8>,
    hidden_shift: Vec<u8>,
    output_weights: Vec<u8>,
    output_words: Vec<u8>,
    output_bias: Vec<u8>,
    output_mult: Vec<u8>,
    output_shift: Vec<u8>,
}

fn words(values: &[i32]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_le_bytes()).collect()
}

impl HandMade {
    fn new() -> Self {
        // Filter 0 copies the centre pixel (multiplier 1.0); the others are silent.
        let mut conv_weights = vec![0u8; KERNEL_TAPS * FILTERS];
        conv_weights[conv_index(0, 4)] = 1; // tap 4 = centre
        // Hidden unit 0 sums channel 0 over all 169 pooled positions.
        let positions = Variant::Pool.feature_positions();
        let mut hidden_weights = vec![0u8; positions * FILTERS * HIDDEN];
        for position in 0..positions {
            hidden_weights[hidden_index(0, position * FILTERS)] = 1;
        }
        // Class 3 reads unit 0 with weight 2; class 7 with weight -1.
        let mut output_weights = vec![0u8; 10 * HIDDEN];
        output_weights[output_index(3, 0)] = 2;
        output_weights[output_index(7, 0)] = (-1i8) as u8;
        HandMade {
            conv_weights,
            conv_words: words(&[0; FILTERS]),
            conv_mult: words(&[1 << 30; FILTERS]),
            conv_shift: vec![30; FILTERS],
            conv_bias: words(&[0; FILTERS]),
            hidden_weights,
            hidden_words: words(&[0; HIDDEN]),
            hidden_mult: words(&[1 << 30; HIDDEN]),
            hidden_shift: vec![30; HIDDEN],
            output_weights,
            output_words: words(&[0; 10]),
            output_bias: words(&[0, 0, 0, 0, 0, 0, 0, 100, 0, 0]),
            // 2^30 / 2^29 = 2.0: logits are twice the accumulators.
            output_mult: words(&[1 << 30; 10]),
            output_shift: vec![29; 10],
        }
    }

    fn file(&self) -> ModelFile<'_> {
        ModelFile {
            variant: Variant::Pool.code(),
            dataset: Dataset::Fashion.code(),
            dimensions: Dimensions::of(Variant::Pool),
            class_names: Dataset::Fashion.class_names(),
            input_scale: 1.0 / 255.0,
            input_zero_point: -128,
            conv: LayerFile {
                weights: &self.conv_weights,
                weight_scale: &self.conv_words,
                bias: &self.conv_bias,
                multiplier: &self.conv_mult,
                shift: &self.conv_shift,
                out_scale: 1.0 / 255.0,
                out_zero_point: -128,
            },
            hidden: LayerFile {
                weights: &self.hidden_weights,
                weight_scale: &self.hidden_words,
                bias: &self.hidden_words,
                multiplier: &self.hidden_mult,
                shift: &self.hidden_shift,
                out_scale: 1.0,
                out_zero_point: -128,
            },
            output: LayerFile {
                weights: &self.output_weights,
                weight_scale: &self.output_words,
                bias: &self.output_bias,
                multiplier: &self.output_mult,
                shift: &self.output_shift,
                out_scale: 1.0 / 65536.0,
                out_zero_point: 0,
            },
        }
    }
}

#[test]
fn hand_made_model_gives_hand_computed_logits() {
    let hand = HandMade::new();
    let bytes = reencode(&hand.file());
    let model = Model::from_bytes(&bytes).unwrap();
    assert_eq!(model.variant(), Variant::Pool);
    assert_eq!(model.dataset(), Dataset::Fashion);
    assert_eq!(model.class_names()[9], "Ankle boot");
    assert_eq!(model.file_bytes(), bytes.len());

    let mut scratch = Scratch::new();
    // A 1-pixel-wide bright cross: the pooled centre pixels see it at some positions.
    // Uniform image of value v: every pooled position's filter 0 output is v, unit 0
    // sums 169 * v (clamped at 255 after requantization), class 3 gets 2 * that * 2.
    for (v, unit0) in [(0u8, 0i32), (1, 169), (2, 255), (255, 255)] {
        let p = model.classify(&[v; 784], &mut scratch).unwrap();
        let mut want = [0i32; 10];
        want[3] = 2 * 2 * unit0;
        want[7] = 2 * (100 - unit0);
        assert_eq!(p.logits, want, "uniform image {v}");
        let best = if want[3] > want[7].max(0) {
            3
        } else if want[7] > 0 {
            7
        } else {
            0
        };
        assert_eq!(p.class, best, "uniform image {v}");
    }

    // The integer-only entry gives the same class and logits; probabilities are a step
    // of their own, and printing needs no float formatting.
    let logits = model.infer(&[1; 784], &mut scratch);
    let full = model.classify(&[1; 784], &mut scratch).unwrap();
    assert_eq!((logits.class, logits.values), (full.class, full.logits));
    assert_eq!(model.probabilities(&logits), full.probabilities);
    assert_eq!(model.predict(&[1; 784], &mut scratch), full);
    assert_eq!(full.to_logits(), logits);
    assert_eq!(
        format!("{logits}"),
        format!("class 3, logits {:?}", full.logits)
    );
    // 676 logit steps of 2^-16 over 0: barely above a tenth.
    assert_eq!(format!("{full}"), "class 3 (p 0.101)");

    // Max-pooling: a single bright pixel at (1, 1) is the centre of conv position (0, 0),
    // which pools into feature position 0 only.
    let mut image = [0u8; 784];
    image[28 + 1] = 7;
    let p = model.classify(&image, &mut scratch).unwrap();
    assert_eq!(p.logits[3], 2 * 2 * 7);
    assert_eq!(p.logits[7], 2 * (100 - 7));

    assert_eq!(
        model.classify(&[0u8; 783], &mut scratch).unwrap_err(),
        Error::ImageSize {
            expected: 784,
            found: 783
        }
    );
}

#[test]
fn out_of_range_parameters_are_rejected_even_with_a_valid_checksum() {
    let hand = HandMade::new();
    let expect = |file: &ModelFile<'_>, error: Error| {
        assert_eq!(Model::from_bytes(&reencode(file)).unwrap_err(), error);
    };

    let mut file = hand.file();
    file.variant = 2;
    expect(&file, Error::ModelVariant { code: 2 });

    let mut file = hand.file();
    file.dataset = 9;
    expect(&file, Error::ModelDataset { code: 9 });

    // The dimensions must be this build's for the variant: a variant code that
    // disagrees with them, or another network, is named before any tensor is read.
    let mut file = hand.file();
    file.variant = Variant::NoPool.code();
    expect(
        &file,
        Error::ModelDimension {
            name: "pool",
            found: 2,
            supported: 1,
        },
    );
    let mut file = hand.file();
    file.dimensions.hidden = 64;
    expect(
        &file,
        Error::ModelDimension {
            name: "hidden",
            found: 64,
            supported: 128,
        },
    );
    let mut file = hand.file();
    file.dimensions.input_side = 32;
    let error = Model::from_bytes(&reencode(&file)).unwrap_err();
    assert_eq!(
        error.to_string(),
        "model dimension input_side is 32, this build supports 28"
    );

    // Variant A with its dimensions needs four times the hidden weights.
    let mut file = hand.file();
    file.variant = Variant::NoPool.code();
    file.dimensions = Dimensions::of(Variant::NoPool);
    expect(
        &file,
        Error::ShapeMismatch {
            tensor: "hidden.weights",
            expected: Variant::NoPool.flat_len() * HIDDEN,
            found: Variant::Pool.flat_len() * HIDDEN,
        },
    );

    let bad_shift = vec![63u8; HIDDEN];
    let mut file = hand.file();
    file.hidden.shift = &bad_shift;
    expect(
        &file,
        Error::ModelQuantization {
            what: "hidden.shift",
        },
    );

    let negative = words(&[-1; FILTERS]);
    let mut file = hand.file();
    file.conv.multiplier = &negative;
    expect(
        &file,
        Error::ModelQuantization {
            what: "conv.multiplier",
        },
    );

    let huge = words(&[(1 << 30) + 1; 10]);
    let mut file = hand.file();
    file.output.bias = &huge;
    expect(
        &file,
        Error::ModelQuantization {
            what: "output.bias",
        },
    );

    let mut file = hand.file();
    file.output.out_zero_point = 3;
    expect(
        &file,
        Error::ModelQuantization {
            what: "output.out_zero_point",
        },
    );

    let mut file = hand.file();
    file.input_zero_point = 0;
    expect(
        &file,
        Error::ModelQuantization {
            what: "input_zero_point",
        },
    );

    let mut file = hand.file();
    file.output.out_scale = f32::NAN;
    expect(
        &file,
        Error::ModelQuantization {
            what: "output.out_scale",
        },
    );

    let short = words(&[0; 9]);
    let mut file = hand.file();
    file.output.multiplier = &short;
    expect(
        &file,
        Error::ShapeMismatch {
            tensor: "output.multiplier",
            expected: 40,
            found: 36,
        },
    );
}

/// A -128 weight (byte 0x80) is outside the documented `-127..=127`: `from_bytes` names
/// the layer and the position; `from_trusted_bytes`, which skips the CRC32, skips this
/// scan too (it guards provenance, not the loops: the model still classifies).
#[test]
fn a_weight_of_minus_128_is_refused_by_the_checked_reader_only() {
    let hand = HandMade::new();
    for (layer, at) in [("conv", 31), ("hidden", 12_345), ("output", 1_279)] {
        let mut weights = match layer {
            "conv" => hand.conv_weights.clone(),
            "hidden" => hand.hidden_weights.clone(),
            _ => hand.output_weights.clone(),
        };
        weights[at] = 0x80;
        let mut file = hand.file();
        match layer {
            "conv" => file.conv.weights = &weights,
            "hidden" => file.hidden.weights = &weights,
            _ => file.output.weights = &weights,
        }
        let bytes = reencode(&file);
        let error = Model::from_bytes(&bytes).unwrap_err();
        let tensor = match layer {
            "conv" => "conv.weights",
            "hidden" => "hidden.weights",
            _ => "output.weights",
        };
        assert_eq!(error, Error::ModelWeightRange { tensor, index: at });
        assert_eq!(
            error.to_string(),
            format!(
                "model tensor {tensor} holds the weight -128 (at byte {at}); int8 weights \
                 must be in -127..=127"
            )
        );
        let model = Model::from_trusted_bytes(&bytes).unwrap();
        let mut scratch = Scratch::new();
        model.classify(&[9; 784], &mut scratch).unwrap();
    }
    // -127 is the lowest valid weight.
    let mut weights = hand.output_weights.clone();
    weights[0] = 0x81;
    let mut file = hand.file();
    file.output.weights = &weights;
    Model::from_bytes(&reencode(&file)).unwrap();
}

#[test]
fn the_frame_is_shared_and_its_header_reads_from_a_prefix() {
    use picocnn::format::{
        FORMAT_VERSION, MAGIC, MAX_HEADER, decode_frame, encode_frame, read_header,
    };
    // Another kind of file: its own magic and version, the same frame.
    let payload: Vec<u8> = (0..300u32).map(|i| i as u8).collect();
    let mut buf = vec![0u8; 400];
    let len = encode_frame(*b"CKPT", 7, &payload, &mut buf).unwrap();
    let frame = &buf[..len];
    assert_eq!(&frame[..4], b"CKPT");
    assert_eq!(frame[4], 7);
    assert_eq!(&frame[5..7], &[0xac, 0x02]); // 300 as a varint
    assert_eq!(decode_frame(frame, *b"CKPT", 7), Ok(&payload[..]));
    assert_eq!(
        decode_frame(frame, MAGIC, FORMAT_VERSION),
        Err(Error::ModelBadMagic)
    );
    assert_eq!(
        decode_frame(frame, *b"CKPT", 8),
        Err(Error::ModelVersion {
            found: 7,
            expected: 8
        })
    );
    // The header alone tells the kind, version and the whole frame's length.
    let header = read_header(&frame[..MAX_HEADER], *b"CKPT", 7).unwrap();
    assert_eq!((header.version, header.payload_start), (7, 7));
    assert_eq!(header.frame_len(), Some(len));
    assert_eq!(
        read_header(&frame[..6], *b"CKPT", 7),
        Err(Error::ModelTruncated)
    );
    let mut short = vec![0u8; len - 1];
    assert_eq!(
        encode_frame(*b"CKPT", 7, &payload, &mut short),
        Err(Error::EncodeBufferTooSmall)
    );
    let mut bad = frame.to_vec();
    bad[100] ^= 1;
    assert!(matches!(
        decode_frame(&bad, *b"CKPT", 7),
        Err(Error::ModelChecksum { .. })
    ));
}

#[test]
fn trusted_bytes_skip_only_the_checksum() {
    let hand = HandMade::new();
    let bytes = reencode(&hand.file());
    let mut stale_crc = bytes.clone();
    *stale_crc.last_mut().unwrap() ^= 0xff;
    assert!(matches!(
        Model::from_bytes(&stale_crc),
        Err(Error::ModelChecksum { .. })
    ));
    let model = Model::from_trusted_bytes(&stale_crc).unwrap();
    let mut scratch = Scratch::new();
    assert_eq!(
        model.classify(&[1; 784], &mut scratch).unwrap().logits[3],
        4 * 169
    );

    // Everything else is still checked.
    assert_eq!(
        Model::from_trusted_bytes(&bytes[..bytes.len() - 1]).unwrap_err(),
        Error::ModelTruncated
    );
    let mut file = hand.file();
    file.dimensions.filters = 16;
    assert!(matches!(
        Model::from_trusted_bytes(&reencode(&file)),
        Err(Error::ModelDimension { .. })
    ));
    // A damaged tensor length in an unchecked file is a typed error, never a panic.
    let mut damaged = bytes.clone();
    damaged[200] ^= 0x55;
    let _ = Model::from_trusted_bytes(&damaged);
}
