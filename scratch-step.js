const {initBackend}=require('./dist/src/backend.js');
const {buildImageModel}=require('./dist/src/models/multitask.js');
const {MODEL_SPECS}=require('./dist/src/models/tasks.js');
const {PROFILES}=require('./dist/src/config/profiles.js');
const {multiTaskLoss}=require('./dist/src/train/losses.js');
const tf=require('@tensorflow/tfjs-core');
(async()=>{
 await initBackend(process.argv[2]||'wasm');
 const prof=PROFILES[process.argv[3]||'quick'];
 const dn = process.argv[4]==='full' ? {} : prof.densenet;
 const m=buildImageModel(MODEL_SPECS['mt-bin-age'],1,dn);
 const B=+(process.argv[5]||4); const [D,H,W]=process.argv[6]?process.argv[6].split(',').map(Number):prof.inputSize;
 const x=new Float32Array(B*D*H*W).map(()=>Math.random());
 const tg={prognosis:tf.ones([B,1]),'age-binary':tf.zeros([B,1])};
 const heads=[{task:'prognosis',weight:0.5},{task:'age-binary',weight:0.3}];
 for(let i=0;i<3;i++){
  const t=performance.now();
  const prof2 = await tf.profile(()=>{ const ctx={training:true,stats:new Map()}; const {value,grads}=tf.variableGrads(()=>multiTaskLoss(m.predict(x,[B,D,H,W],ctx),tg,heads).total, m.store.trainable()); m.commitBatchStats(ctx); value.dataSync(); tf.dispose(Object.values(grads)); value.dispose(); });
  console.log('step ms', (performance.now()-t).toFixed(0));
  if(i==2){ const agg={}; for(const k of prof2.kernels){ agg[k.name]=agg[k.name]||{ms:0,n:0}; agg[k.name].ms+=k.kernelTimeMs; agg[k.name].n++; } console.log(Object.entries(agg).sort((a,b)=>b[1].ms-a[1].ms).slice(0,12).map(([k,v])=>`${k} ${v.ms.toFixed(0)}ms x${v.n}`).join('\n')); }
 }
})();
