"""Learning-rate schedules: functions of the step (an array) returning the rate."""

import math

import tessera.core as mx


def exponential_decay(init, decay_rate):
    def schedule(step):
        return init * decay_rate**step

    return schedule


def step_decay(init, decay_rate, step_size):
    def schedule(step):
        return init * (decay_rate ** (step // step_size))

    return schedule


def cosine_decay(init, decay_steps, end=0.0):
    def schedule(step):
        s = mx.minimum(step, decay_steps)
        decay = 0.5 * (1.0 + mx.cos((math.pi / decay_steps) * s))
        return end + decay * (init - end)

    return schedule


def linear_schedule(init, end, steps):
    if steps < 1:
        raise ValueError(f"steps must be greater than 0, but got {steps}.")

    def schedule(step):
        step = mx.minimum(step, steps)
        return step * ((end - init) / steps) + init

    return schedule


def join_schedules(schedules, boundaries):
    """Runs ``schedules[i]`` from ``boundaries[i - 1]`` on, each with its own step count from 0."""
    if len(schedules) == 0:
        raise ValueError("Must provide at least 1 schedule to join.")
    if len(schedules) != len(boundaries) + 1:
        raise ValueError(f"Received {len(boundaries)} boundaries but expected {len(schedules) - 1}.")

    def schedule(step):
        output = schedules[0](step)
        for boundary, fn in zip(boundaries, schedules[1:]):
            output = mx.where(step < boundary, output, fn(step - boundary))
        return output

    return schedule
