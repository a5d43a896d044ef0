package org.hbp.data;

/**
 * Pixel bytes as floats in {@code [0, 1]}: {@code byte / 255} in float precision, exactly what
 * torchvision's {@code ToTensor()} gives (Fashion-MNIST and CIFAR-10 alike).
 */
final class Pixels {
    private static final float[] SCALE = new float[256];

    static {
        for (int b = 0; b < 256; b++) {
            SCALE[b] = b / 255f;
        }
    }

    private Pixels() {}

    /** The pixel value of the unsigned byte {@code b}: {@code (b & 0xff) / 255f}. */
    static float of(byte b) {
        return SCALE[b & 0xff];
    }
}
