#!/usr/bin/python3
# The reference for make bench: OsteoNet (the default --arch of osteo-train)
# in PyTorch on the same machine, training (forward, backward, Adam) and
# inference, in the default layout and channels-last, eager mode.  Prints
# lines "torch LAYOUT train|infer IMAGES_PER_S".
#   bench/torch_osteonet.py THREADS SIZE BATCH CLINICAL [cpu|cuda [TF32]]
# On cuda the timings synchronise the device, as osteo's read the loss and
# probabilities back; TF32 0 (the default) turns it off for cuDNN and
# cuBLAS, so both sides do float32 products.
import sys
import time
import torch

threads, size, batch, nclin = (int(a) for a in sys.argv[1:5])
device = sys.argv[5] if len(sys.argv) > 5 else "cpu"
tf32 = len(sys.argv) > 6 and sys.argv[6] == "1"
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

def median(v):
    v = sorted(v)
    return v[len(v) // 2]

for layout in ("default", "channels_last"):
    net = OsteoNet().to(device)
    x = torch.randn(batch, 1, size, size, device=device)
    clin = torch.randn(batch, nclin, device=device)
    y = torch.randint(0, 3, (batch,), device=device)
    if layout == "channels_last":
        net = net.to(memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last)
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    loss_fn = torch.nn.CrossEntropyLoss()
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
