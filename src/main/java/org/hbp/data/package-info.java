/**
 * Image classification data sets for training: {@link org.hbp.data.FashionMnist} and
 * {@link org.hbp.data.Cifar10} from their files, a seeded {@link org.hbp.data.Synthetic} problem,
 * seeded one-hot token sequences ({@link org.hbp.data.TokenSequences}, stored as {@code (1, V, T)} images),
 * all held as a {@link org.hbp.data.Dataset} ({@code float} images in PyTorch's {@code (c, h, w)}
 * layout) within a train/test {@link org.hbp.data.Split}; {@link org.hbp.data.DataSets} picks one by
 * the command line's name, {@link org.hbp.data.MiniBatches} draws seeded mini-batches.
 */
package org.hbp.data;
