"""The GPU that the lowbit CUDA runtime uses, for the tests that run on
one (lit feature `cuda`)."""

import sys

import lowbit.cuda


def gpu_chip(report=False):
    """sm_XY of the device; exits when there is none. With `report`, prints
    its name, SMs and driver version."""
    try:
        device = lowbit.cuda.device_info()
    except lowbit.LowbitError as error:
        sys.exit(f"no usable GPU: {error}")
    if report:
        print(f"device {device['ordinal']}: {device['name']}, "
              f"{device['chip']}, {device['multiprocessors']} SMs, driver "
              f"{device['driver_version']}")
    return device["chip"]
