# Prints the parameters torch.optim produces on the tiny problem of tests/SltSharp.Engine.Tests/Optim/OptimizerTests.cs.
# Run with /usr/bin/python3 (torch 1.13).
import torch
torch.set_default_dtype(torch.float64)
grads=[[0.5,1.0],[-0.2,0.3],[0.7,-0.4]]
def run(make):
    p=torch.nn.Parameter(torch.tensor([1.0,-2.0]))
    opt=make([p])
    out=[]
    for g in grads:
        p.grad=torch.tensor(g)
        opt.step()
        out.append(p.detach().tolist())
    return out
cases={
 "sgd_plain":lambda ps: torch.optim.SGD(ps,lr=0.1),
 "sgd_momentum":lambda ps: torch.optim.SGD(ps,lr=0.1,momentum=0.9,dampening=0.1,weight_decay=0.01),
 "sgd_nesterov":lambda ps: torch.optim.SGD(ps,lr=0.1,momentum=0.9,weight_decay=0.01,nesterov=True),
 "adam":lambda ps: torch.optim.Adam(ps,lr=0.1,betas=(0.8,0.95),eps=1e-6,weight_decay=0.05),
 "adamw":lambda ps: torch.optim.AdamW(ps,lr=0.1,betas=(0.8,0.95),eps=1e-6,weight_decay=0.05),
}
for k,f in cases.items():
    print(k, [[repr(v) for v in r] for r in run(f)])
