#!/usr/bin/python3
# The reference for make bench: OsteoNet (the default --arch of osteo-train)
# in PyTorch on the same machine, training (forward, backward, Adam) and
# inference, in the default layout and channels-last, eager mode.  Prints
# lines "torch LAYOUT train|infer IMAGES_PER_S".
#   bench/torch_osteonet.py THREADS SIZE BATCH CLINICAL [cpu|cuda [TF32]]
# or one measurement alone, in a process of its own (its peak memory is
# then that measurement's):
#   bench/torch_osteonet.py THREADS SIZE BATCH CLINICAL cpu 0 MODE LAYOUT
# MODE train|infer|latency (latency: single images, batch ignored), which
# prints "torch LAYOUT MODE IMAGES_PER_S PEAK_RSS_MIB" (latency: "torch
# LAYOUT latency P50_MS P90_MS PEAK_RSS_MIB"); or a user's whole loop over
# N images held as tensors, as osteo-train and osteo-infer go over records:
#   bench/torch_osteonet.py THREADS SIZE BATCH CLINICAL cpu 0 loop-train|loop-infer LAYOUT N
# each epoch in a new random order, batches gathered by index (training:
# forward, loss, backward, Adam; inference: forward and softmax), the median
# of 3 epochs after one of warm-up, printed as "torch LAYOUT MODE
# IMAGES_PER_S PEAK_RSS_MIB".
# LAYOUT channels_last_bf16 is channels-last under torch.autocast("cpu",
# dtype=torch.bfloat16): PyTorch's mixed precision, the reference for
# osteo's --precision bf16.
# BENCH_NET=resnet18 in the environment: torchvision's ResNet-18 (3
# classes) on 3-channel images in place of OsteoNet, the clinical values
# unused (CLINICAL 0), as bench/cpu-bench.c's ARCH resnet18 runs it.
# On cuda the timings synchronise the device, as osteo's read the loss and
# probabilities back; TF32 0 (the default) turns it off for cuDNN and
# cuBLAS, so both sides do float32 products.
import contextlib
import os
import resource
import sys
import time
import torch

threads, size, batch, nclin = (int(a) for a in sys.argv[1:5])
device = sys.argv[5] if len(sys.argv) > 5 else "cpu"
tf32 = len(sys.argv) > 6 and sys.argv[6] == "1"
only = sys.argv[7:9] if len(sys.argv) > 8 else None
loop_n = int(sys.argv[9]) if len(sys.argv) > 9 else 0
torch.set_num_threads(threads)
torch.manual_seed(0)
torch.backends.cudnn.allow_tf32 = tf32
torch.backends.cuda.matmul.allow_tf32 = tf32

# GPU steps take milliseconds: more of them for a steady median
steps = 30 if device == "cuda" else 8

def sync():
    if device == "cuda":
        torch.cuda.synchronize()

class OsteoNet(torch.nn.Module):
    def __init__(self):
        super().__init__()
        layers, c = [], 1
        for oc in (16, 32, 64, 128):
            layers += [torch.nn.Conv2d(c, oc, 3, padding=1, bias=False), torch.nn.BatchNorm2d(oc),
                       torch.nn.ReLU(), torch.nn.MaxPool2d(2)]
            c = oc
        self.features = torch.nn.Sequential(*layers)
        flat = 128 * (size // 16) * (size // 16)
        self.dense = torch.nn.Linear(flat + nclin, 128)
        self.drop = torch.nn.Dropout(0.5)
        self.out = torch.nn.Linear(128, 3)

    def forward(self, x, clin):
        h = self.features(x).flatten(1)
        h = torch.cat([h, clin], 1)
        return self.out(self.drop(torch.relu(self.dense(h))))

class ResNet18(torch.nn.Module):
    """torchvision's, taking OsteoNet's (image, clinical) and ignoring the
    clinical values"""
    def __init__(self):
        super().__init__()
        import torchvision
        self.net = torchvision.models.resnet18(num_classes=3)

    def forward(self, x, clin):
        return self.net(x)

resnet = os.environ.get("BENCH_NET", "osteonet") == "resnet18"

def median(v):
    v = sorted(v)
    return v[len(v) // 2]

def peak_mib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0

def setup(n, layout, dev="cpu", lr=1e-4):
    """the network, n random images with their clinical values and labels,
    Adam and the loss, in the layout asked for"""
    net = (ResNet18() if resnet else OsteoNet()).to(dev)
    x = torch.randn(n, 3 if resnet else 1, size, size, device=dev)
    clin = torch.randn(n, nclin, device=dev)
    y = torch.randint(0, 3, (n,), device=dev)
    if layout.startswith("channels_last"):
        net = net.to(memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last)
    return net, x, clin, y, torch.optim.Adam(net.parameters(), lr=lr), torch.nn.CrossEntropyLoss()

def amp(layout):
    """bfloat16 autocast for a LAYOUT ending in _bf16 (the float32 master
    weights, Adam and the loss's reduction stay float32), else nothing"""
    if layout.endswith("_bf16"):
        return torch.autocast("cpu", dtype=torch.bfloat16)
    return contextlib.nullcontext()

def one(mode, layout):
    """One measurement, as make bench's CPU table takes it: the median of 7
    rounds of about 0.3 s after a round of warm-up, like bench/cpu-bench.c
    (3 rounds where a step takes more than half a second)"""
    b = 1 if mode == "latency" else batch
    net, x, clin, y, opt, loss_fn = setup(b, layout)
    def step():
        if mode == "train":
            opt.zero_grad()
            with amp(layout):
                loss = loss_fn(net(x, clin), y)
            loss.backward()
            opt.step()
        else:
            with torch.no_grad(), amp(layout):
                net(x, clin)
    net.train(mode == "train")
    if mode == "latency":
        t = []
        for i in range(220):
            t0 = time.perf_counter()
            step()
            if i >= 20:
                t.append(time.perf_counter() - t0)
        t.sort()
        print("torch %s latency %.3f %.3f %.1f" % (layout, t[len(t) // 2] * 1e3, t[len(t) * 9 // 10] * 1e3,
                                                  peak_mib()), flush=True)
        return
    t0 = time.perf_counter()
    step()
    step()
    per = (time.perf_counter() - t0) / 2
    steps = int(0.3 / per) + 1
    # 7 timed rounds, or 3 where one step takes seconds (channels-first
    # with glibc's allocator on big images)
    rates = []
    for r in range(8 if per < 0.5 else 4):
        t0 = time.perf_counter()
        for i in range(steps):
            step()
        if r > 0:
            rates.append(b * steps / (time.perf_counter() - t0))
    print("torch %s %s %.1f %.1f" % (layout, mode, median(rates), peak_mib()), flush=True)

def loop(mode, layout, n):
    """epochs over n images as a training or inference loop runs them"""
    net, x, clin, y, opt, loss_fn = setup(n, layout)
    net.train(mode == "loop-train")
    rates = []
    for epoch in range(4):
        t0 = time.perf_counter()
        order = torch.randperm(n)
        for s in range(0, n, batch):
            idx = order[s:s + batch]
            xb, cb = x[idx], clin[idx]
            if layout.startswith("channels_last"):
                xb = xb.contiguous(memory_format=torch.channels_last)
            if mode == "loop-train":
                opt.zero_grad()
                with amp(layout):
                    loss = loss_fn(net(xb, cb), y[idx])
                loss.backward()
                opt.step()
                loss.item()
            else:
                with torch.no_grad(), amp(layout):
                    torch.softmax(net(xb, cb).float(), 1)
        if epoch > 0:
            rates.append(n / (time.perf_counter() - t0))
    print("torch %s %s %.1f %.1f" % (layout, mode, median(rates), peak_mib()), flush=True)

if only and only[0].startswith("loop-"):
    loop(only[0], only[1], loop_n)
    sys.exit(0)
if only:
    one(only[0], only[1])
    sys.exit(0)

for layout in ("default", "channels_last"):
    net, x, clin, y, opt, loss_fn = setup(batch, layout, device, lr=1e-3)
    net.train()
    rates = []
    for i in range(steps):
        sync()
        t0 = time.perf_counter()
        opt.zero_grad()
        loss_fn(net(x, clin), y).backward()
        opt.step()
        sync()
        if i >= 2:
            rates.append(batch / (time.perf_counter() - t0))
    print("torch %s train %.1f" % (layout, median(rates)), flush=True)
    net.eval()
    rates = []
    with torch.no_grad():
        for i in range(steps):
            sync()
            t0 = time.perf_counter()
            net(x, clin)
            sync()
            if i >= 2:
                rates.append(batch / (time.perf_counter() - t0))
    print("torch %s infer %.1f" % (layout, median(rates)), flush=True)
