package org.hbp.data;

import java.util.Objects;
import org.hbp.UserError;

/**
 * A training and a test set with the same image shape and the same number of classes.
 *
 * @param train the training set
 * @param test the test set (may be empty)
 */
public record Split(Dataset train, Dataset test) {
    /**
     * @throws UserError if the two sets differ in image shape or classes
     */
    public Split {
        Objects.requireNonNull(train, "train");
        Objects.requireNonNull(test, "test");
        if (!train.sameShapeAs(test)) {
            throw new UserError("training set " + train + " and test set " + test
                    + " differ in image shape or number of classes");
        }
    }

    /**
     * Both sets normalized per channel with the <em>training</em> set's mean and population std
     * ({@link Dataset#channelMeans()}, {@link Dataset#channelStds()}), as torchvision's
     * {@code Normalize(mean, std)} with training statistics: the training set then has mean 0 and
     * std 1 in each channel, the test set only approximately.
     */
    public Split normalized() {
        float[] mean = train.channelMeans();
        float[] std = train.channelStds();
        return new Split(train.normalized(mean, std), test.normalized(mean, std));
    }
}
