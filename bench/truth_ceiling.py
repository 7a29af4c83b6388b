#!/usr/bin/python3
"""What an image model could reach on the synthetic cohort: scikit-learn's logistic regression on the parameters the
generator drew each scan from (ICH_synthetic_truth.csv), cross-validated on the paper's folds
(StratifiedKFold(10, shuffle=True, random_state=1) over the scanned patients' labels). Prints pooled and fold-mean AUC.
Run with Debian's python3 (python3-sklearn): /usr/bin/python3 bench/truth_ceiling.py [data/synthetic]."""
import csv
import math
import sys

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold, cross_val_predict
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

root = sys.argv[1] if len(sys.argv) > 1 else 'data/synthetic'
rows = [r for r in csv.DictReader(open(f'{root}/ICH_synthetic_truth.csv')) if r['hematoma_ml'] != '']
y = np.array([int(r['label']) for r in rows])
cv = StratifiedKFold(10, shuffle=True, random_state=1)
IMAGE = ['hematoma_ml', 'ivh_fraction', 'midline_shift_mm', 'atrophy']
for name, cols in [('scan parameters (log hematoma volume, IVH fraction, midline shift, atrophy)', IMAGE),
                   ('hematoma volume alone', ['hematoma_ml']),
                   ('scan parameters + age', IMAGE + ['Age']),
                   ('scan parameters + age + GCS', IMAGE + ['Age', 'GCS'])]:
    # Hematoma volume is right-skewed (a few large bleeds): its log is the scale the risk follows.
    x = np.array([[math.log1p(float(r[c])) if c == 'hematoma_ml' else float(r[c]) for c in cols] for r in rows])
    p = cross_val_predict(make_pipeline(StandardScaler(), LogisticRegression()), x, y, cv=cv, method='predict_proba')[:, 1]
    folds = [roc_auc_score(y[test], p[test]) for _, test in cv.split(x, y)]
    print(f'{name}: pooled AUC {roc_auc_score(y, p):.3f}, fold mean {np.mean(folds):.3f} +- {np.std(folds, ddof=1):.3f} ({len(y)} scans)')
