"""Adam, the one first-order optimiser of skembed's iterative solvers (R-LACE, the reducer)."""

import numpy as np


class Adam:
    """Adam steps (Kingma & Ba, 2015) on a list of arrays, updated in place.

    ``update`` descends; pass negated gradients to ascend.
    """

    def __init__(self, shapes, step, beta1=0.9, beta2=0.999, eps=1e-8):
        self.step, self.beta1, self.beta2, self.eps = step, beta1, beta2, eps
        self.first = [np.zeros(shape) for shape in shapes]
        self.second = [np.zeros(shape) for shape in shapes]
        self.t = 0

    def update(self, params, grads):
        self.t += 1
        for param, grad, first, second in zip(params, grads, self.first, self.second):
            first *= self.beta1
            first += (1 - self.beta1) * grad
            second *= self.beta2
            second += (1 - self.beta2) * grad**2
            first_hat = first / (1 - self.beta1**self.t)
            second_hat = second / (1 - self.beta2**self.t)
            param -= self.step * first_hat / (np.sqrt(second_hat) + self.eps)
