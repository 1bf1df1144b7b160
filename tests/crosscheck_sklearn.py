# Optional cross-check of `steplab run` against numpy and scikit-learn (not run by CI).
# Usage: cargo build --release && pip install numpy scikit-learn && python3 tests/crosscheck_sklearn.py
import json, subprocess, numpy as np, csv
from sklearn.linear_model import LogisticRegression
from sklearn.cluster import KMeans
from sklearn.mixture import GaussianMixture
import os
ROOT=os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
B=os.path.join(ROOT,'target/release/steplab')
def run(*a):
    out=subprocess.run([B,'run',*a],capture_output=True,text=True)
    assert out.returncode==0, out.stderr
    return json.loads(out.stdout)
def load(p):
    rows=list(csv.reader(open(p)))
    return rows[0], rows[1:]
E=ROOT+'/assets/examples/'
# 1 linear regression
h,r=load(E+'houses.csv'); X=np.array([[float(v) for v in row[:3]] for row in r]); y=np.array([float(row[3]) for row in r])
Xs=(X-X.mean(0))/X.std(0)
A=np.c_[Xs,np.ones(len(y))]; th=np.linalg.lstsq(A,y,rcond=None)[0]
j=run('--algorithm','linear-regression','--data',E+'houses.csv','--standardize','--steps','3000','--lr','0.5','--every','1000')
w=np.array(j['final']['params']['weights']+[j['final']['params']['bias']])
print('linear-regression GD(3000) vs numpy lstsq: max |diff| =', np.abs(w-th).max(), j['stopped'])
# 2 logistic, lambda=0.01
h,r=load(E+'exam_pass.csv'); X=np.array([[float(v) for v in row[:2]] for row in r]); yl=np.array([row[2] for row in r]); y=(yl=='pass').astype(float)
lam=0.01; n=len(y)
j=run('--algorithm','logistic-regression','--data',E+'exam_pass.csv','--l2',str(lam),'--optimizer','newton','--steps','30')
sk=LogisticRegression(C=1/(n*lam),tol=1e-12,max_iter=10000).fit(X,y)
w=np.array(j['final']['params']['weights']); b=j['final']['params']['bias']
print('logistic Newton vs sklearn: |dw| =',np.abs(w-sk.coef_[0]).max(),' |db| =',abs(b-sk.intercept_[0]), j['stopped'], j['final']['step'])
# 3 softmax on blobs-with-classes fixture
h,r=load(ROOT+'/tests/data/three_blobs.csv'); X=np.array([[float(v) for v in row[:2]] for row in r]); yl=[row[2] for row in r]
j=run('--algorithm','softmax-regression','--data',ROOT+'/tests/data/three_blobs.csv','--l2','0.05','--steps','20000','--lr','0.5','--every','20000')
W=np.array(j['final']['params']['weights']); bb=np.array(j['final']['params']['bias'])
sk=LogisticRegression(C=1/(len(yl)*0.05),tol=1e-12,max_iter=100000).fit(X,yl)
Z=X@W.T+bb; P=np.exp(Z-Z.max(1,keepdims=True)); P/=P.sum(1,keepdims=True)
print('softmax GD(20000) vs sklearn multinomial: max |dp| =',np.abs(P-sk.predict_proba(X)).max())
# 4 PCA
h,r=load(ROOT+'/tests/data/regression3.csv'); X=np.array([[float(v) for v in row] for row in r])
j=run('--algorithm','pca','--data',ROOT+'/tests/data/regression3.csv','--components','3','--steps','5000')
S=np.cov(X.T,bias=True); ev,V=np.linalg.eigh(S); o=np.argsort(ev)[::-1]
C=np.array(j['final']['params']['components'])
d=[]
for k in range(3):
    v=V[:,o[k]]; v=v if v[np.argmax(abs(v))]>0 else -v; d.append(np.abs(C[k]-v).max())
print('pca power iteration vs numpy eigh: max |d component| =',max(d),' ratio diff =',np.abs(np.array(j['final']['params']['explained_variance_ratio'])-ev[o[:3]]/ev.sum()).max(), j['stopped'], j['final']['step'])
# 5 k-means
h,r=load(E+'blobs.csv'); X=np.array([[float(v) for v in row] for row in r])
j=run('--algorithm','k-means','--data',E+'blobs.csv','--k','3','--init-rows','0,60,120')
km=KMeans(3,init=X[[0,60,120]],n_init=1,algorithm='lloyd',tol=0,max_iter=1000).fit(X)
C=np.array(j['final']['params']['centroids'])
print('k-means vs sklearn lloyd: max |d centroid| =',np.abs(C-km.cluster_centers_).max(),' loss vs inertia/n =',abs(j['final']['loss']-km.inertia_/len(X)), j['stopped'], j['final']['step'], 'sklearn iters', km.n_iter_)
# 6 GMM
j=run('--algorithm','gmm','--data',E+'blobs.csv','--k','3','--init-rows','0,60,120','--steps','2000')
g=GaussianMixture(3,means_init=X[[0,60,120]],reg_covar=1e-6,tol=1e-12,max_iter=10000).fit(X)
print('gmm EM vs sklearn: loss',j['final']['loss'],' sklearn -score',-g.score(X),' max |d mean| =',np.abs(np.array(j['final']['params']['means'])-g.means_).max(), j['stopped'], j['final']['step'])
