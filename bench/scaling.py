#!/usr/bin/python3
"""The README's model of osteo-train --mpi on several nodes, from figures
measured on one (make bench) and the network's bandwidth.

  bench/scaling.py [OSTEONET_IMG_S [RESNET_IMG_S]]

A step: each node computes its share of the batch (b records at its
measured images/s), rounds its gradients onto the fixed-point grid and back
(the exact sum's local passes, measured at about 2.4 ns a parameter), and
takes part in one MPI_Allreduce of 8 bytes a parameter.  A ring allreduce
moves 2(P-1)/P of those bytes through each node's link and pays 2(P-1)
latencies (30 us, TCP); efficiency is the compute's share of the step, so
P nodes train P x efficiency times as fast as one.  A node k times faster
than the one measured divides the compute by k and keeps the rest: use
its own images/s."""
import sys

nets = [("OsteoNet 128x128", 1146995, float(sys.argv[1]) if len(sys.argv) > 1 else 800.0),
        ("ResNet-18 224x224", 11171779, float(sys.argv[2]) if len(sys.argv) > 2 else 39.5)]
links = [("10 GbE", 1.17e9), ("25 GbE", 2.9e9)]    # what TCP gets of each
ALPHA, LOCAL, B = 30e-6, 2.4e-9, 32                 # latency; s a parameter; records a node a step

print("%-18s %8s %9s %8s  %-7s %s" % ("network", "MB/step", "node im/s", "comp ms", "link",
                                       "allreduce ms, efficiency at 2, 4, 8, 16 nodes"))
for name, n, speed in nets:
    tc, tl, size = B / speed, LOCAL * n, 8 * n
    for link, bw in links:
        cells = []
        for p in (2, 4, 8, 16):
            tar = 2 * (p - 1) / p * size / bw + 2 * (p - 1) * ALPHA
            cells.append("%5.1f %4.2f" % (tar * 1e3, tc / (tc + tl + tar)))
        print("%-18s %8.1f %9.1f %8.1f  %-7s %s" % (name, size / 1e6, speed, tc * 1e3, link, "  ".join(cells)))
