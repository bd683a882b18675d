"""Independent reference of attnscope's percentile bootstrap (core/src/sweep_analysis.cpp), written from the
published definitions, not from the C++: MT19937-64 (Matsumoto and Nishimura 2000, as C++ std::mt19937_64 with
its standard seeding), an unbiased index draw by rejecting the 2^64 mod n lowest words, resample means summed
left to right in float64, and the interval's ends as linearly interpolated quantiles of the sorted means.

Usage: sweep_bootstrap.py SEED RESAMPLES CONFIDENCE VALUE...  -> prints "mean lo hi" with 17 significant digits.
"""
import sys

MASK = (1 << 64) - 1


class MT19937_64:
    n, m = 312, 156
    a = 0xB5026F5AA96619E9
    upper, lower = 0xFFFFFFFF80000000, 0x7FFFFFFF

    def __init__(self, seed):
        self.x = [seed & MASK]
        for i in range(1, self.n):
            prev = self.x[-1]
            self.x.append((6364136223846793005 * (prev ^ (prev >> 62)) + i) & MASK)
        self.i = self.n

    def __call__(self):
        if self.i >= self.n:
            for k in range(self.n):
                y = (self.x[k] & self.upper) | (self.x[(k + 1) % self.n] & self.lower)
                self.x[k] = self.x[(k + self.m) % self.n] ^ (y >> 1) ^ (self.a if y & 1 else 0)
            self.i = 0
        y = self.x[self.i]
        self.i += 1
        y ^= (y >> 29) & 0x5555555555555555
        y ^= (y << 17) & 0x71D67FFFEDA60000
        y ^= (y << 37) & 0xFFF7EEE000000000
        y ^= y >> 43
        return y & MASK


def check_generator():
    # The C++ standard: the 10000th output of a default-constructed (seed 5489) mt19937_64.
    rng = MT19937_64(5489)
    for _ in range(9999):
        rng()
    assert rng() == 9981545732273789042, "MT19937-64 does not match the C++ standard's check value"


def mean(values):
    total = 0.0
    for v in values:
        total += v
    return total / len(values)


def quantile(sorted_values, q):
    pos = q * (len(sorted_values) - 1)
    lo = int(pos)
    hi = min(lo + 1, len(sorted_values) - 1)
    frac = pos - lo
    return sorted_values[lo] * (1 - frac) + sorted_values[hi] * frac


def bootstrap(values, seed, resamples, confidence):
    m = mean(values)
    if len(values) == 1:
        return m, m, m
    rng = MT19937_64(seed)
    n = len(values)
    threshold = (1 << 64) % n
    means = []
    for _ in range(resamples):
        sample = []
        for _ in range(n):
            x = rng()
            while x < threshold:
                x = rng()
            sample.append(values[x % n])
        means.append(mean(sample))
    means.sort()
    tail = (1 - confidence) / 2
    return m, quantile(means, tail), quantile(means, 1 - tail)


if __name__ == "__main__":
    check_generator()
    seed, resamples, confidence = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
    values = [float(v) for v in sys.argv[4:]]
    print(" ".join(f"{x:.17g}" for x in bootstrap(values, seed, resamples, confidence)))
