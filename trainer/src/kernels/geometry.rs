//! Where the convolution and the pooling windows read the image: the one description of
//! the feature maps' geometry that both backends index with.
//!
//! Pixels are numbered `y * IMAGE_SIDE + x`, convolution positions `y * CONV_SIDE + x` and
//! pooled positions `y * POOL_SIDE + x` (see [`super`] for the buffers' layouts).

use picocnn::shape::{CONV_SIDE, IMAGE_SIDE, KERNEL_SIDE, KERNEL_TAPS, POOL_SIDE};

/// Elements of a 2x2 pooling window.
pub(super) const WINDOW: usize = 4;
/// Side of the pixel block under a pooling window: the window plus the kernel's reach.
const BLOCK_SIDE: usize = 2 + KERNEL_SIDE - 1;
/// Pixels of that block.
pub(super) const BLOCK_PIXELS: usize = BLOCK_SIDE * BLOCK_SIDE;

/// Pixel offsets of the 3x3 window's taps from its top-left pixel, in tap order.
pub(super) const TAP_OFFSETS: [usize; KERNEL_TAPS] = {
    let mut offsets = [0; KERNEL_TAPS];
    let mut k = 0;
    while k < KERNEL_TAPS {
        offsets[k] = (k / KERNEL_SIDE) * IMAGE_SIDE + k % KERNEL_SIDE;
        k += 1;
    }
    offsets
};

/// Top-left input pixel of convolution output position `position`.
pub(super) fn conv_corner(position: usize) -> usize {
    position / CONV_SIDE * IMAGE_SIDE + position % CONV_SIDE
}

/// Top-left input pixel of the 4x4 pixel block under pooled position `position`.
pub(super) fn pool_corner(position: usize) -> usize {
    2 * (position / POOL_SIDE) * IMAGE_SIDE + 2 * (position % POOL_SIDE)
}

/// Offsets of a pooling window's four convolution positions' corners from the window's
/// corner, in the order that decides ties (top-left, top-right, bottom-left, bottom-right).
pub(super) const WINDOW_OFFSETS: [usize; WINDOW] = [0, 1, IMAGE_SIDE, IMAGE_SIDE + 1];

/// Pixel offsets of a 4x4 block's pixels from its corner, row by row.
pub(super) const BLOCK_OFFSETS: [usize; BLOCK_PIXELS] = {
    let mut offsets = [0; BLOCK_PIXELS];
    let mut q = 0;
    while q < BLOCK_PIXELS {
        offsets[q] = (q / BLOCK_SIDE) * IMAGE_SIDE + q % BLOCK_SIDE;
        q += 1;
    }
    offsets
};

/// For pooling window element `k` (in [`WINDOW_OFFSETS`] order) and tap `t`, the index of
/// its pixel in the 4x4 block: a kernel that loads the block once reads every tap of the
/// window from registers.
pub(super) const WINDOW_TAPS: [[usize; KERNEL_TAPS]; WINDOW] = {
    let mut taps = [[0; KERNEL_TAPS]; WINDOW];
    let mut k = 0;
    while k < WINDOW {
        let mut t = 0;
        while t < KERNEL_TAPS {
            taps[k][t] = (k / 2 + t / KERNEL_SIDE) * BLOCK_SIDE + k % 2 + t % KERNEL_SIDE;
            t += 1;
        }
        k += 1;
    }
    taps
};

// Both ways of reaching a window element's tap land on the same pixel: the scalar kernels
// go through the window's corner, the AVX2 ones through the block.
const _: () = {
    let mut k = 0;
    while k < WINDOW {
        let mut t = 0;
        while t < KERNEL_TAPS {
            assert!(BLOCK_OFFSETS[WINDOW_TAPS[k][t]] == WINDOW_OFFSETS[k] + TAP_OFFSETS[t]);
            t += 1;
        }
        k += 1;
    }
};
