"""Device and precision setup shared by the PyTorch references of `ich bench` (Debian's python3 or a GPU machine's)."""
import torch


def add_device_args(ap):
    """--threads, --device (cpu, cuda[:N]) and --tf32 (TF32 matmuls and convolutions on a GPU)."""
    ap.add_argument('--threads', type=int, default=2)
    ap.add_argument('--device', default='cpu')
    ap.add_argument('--tf32', action='store_true')


def configure(a):
    """Applies the parsed arguments; returns (device, whether it is CUDA). fp32 unless --tf32; cuDNN picks its fastest
    algorithms (benchmark mode), as a PyTorch user would run."""
    torch.set_num_threads(a.threads)
    dev = torch.device(a.device)
    cuda = dev.type == 'cuda'
    if cuda:
        torch.backends.cuda.matmul.allow_tf32 = a.tf32
        torch.backends.cudnn.allow_tf32 = a.tf32
        torch.backends.cudnn.benchmark = True
    torch.manual_seed(0)
    return dev, cuda
