# Regenerates the .npy/.npz test fixtures in this directory (used by org.hbp.io tests).
# Run from this directory:  python3 make_fixtures.py   (generated with numpy 2.4.6)
# Every value is given in closed form in the Java tests; keep each file < 2 KB.
import numpy as np
from numpy.lib import format as npf

# --- supported arrays -------------------------------------------------------
np.save('f8_2x3.npy', np.arange(6, dtype='<f8').reshape(2, 3) * 0.5 - 1)            # (i,j) -> (3i+j)/2 - 1
np.save('f4_3x2.npy', np.arange(6, dtype='<f4').reshape(3, 2) / np.float32(3))      # (i,j) -> float32(2i+j) / 3f
np.save('i8_4.npy', np.array([-3, 0, 2**40, -2**53], dtype='<i8'))
np.save('i4_2x2.npy', np.array([[1, -2], [2**31 - 1, -2**31]], dtype='<i4'))
np.save('f8_fortran_2x3.npy', np.asfortranarray(np.arange(6, dtype='<f8').reshape(2, 3)))   # (i,j) -> 3i+j
np.save('f8_fortran_2x3x4.npy', np.asfortranarray(np.arange(24, dtype='<f8').reshape(2, 3, 4)))  # 12i+4j+k
np.save('f8_2x3x4.npy', np.arange(24, dtype='<f8').reshape(2, 3, 4))                 # (i,j,k) -> 12i+4j+k
np.save('f8_be_3x2.npy', (np.arange(6.).reshape(3, 2) - 2.5).astype('>f8'))       # (i,j) -> 2i+j-2.5
np.save('f4_be_2.npy', np.array([1.5, -0.1], dtype='>f4'))                           # float32(1.5), float32(-0.1)
np.save('i8_be_fortran_2x2.npy', np.asfortranarray(np.array([[1, 2], [3, -4]], dtype='>i8')))
np.save('i4_be_3.npy', np.array([7, -8, 2**31 - 1], dtype='>i4'))
np.save('f8_0d.npy', np.array(3.25))                                                 # shape ()
np.save('f8_0x3.npy', np.zeros((0, 3)))                                              # empty
with open('f8_v2_2.npy', 'wb') as f:                                                 # format 2.0 header
    npf.write_array(f, np.array([1.0, 2.0]), version=(2, 0))
with open('f8_v3_2.npy', 'wb') as f:                                                 # format 3.0 header
    npf.write_array(f, np.array([1.0, 2.0]), version=(3, 0))

# savez: entries stored; keyword order is kept
np.savez('savez.npz', **{'w': np.arange(6, dtype='<f8').reshape(2, 3),              # (i,j) -> 3i+j
                         '0.weight': np.array([[1.5]], dtype='<f4'),
                         'n': np.array(42, dtype='<i8')})
# savez_compressed: entries deflated
np.savez_compressed('savez_compressed.npz', b=np.ones(4) / 4, a=np.arange(3, dtype='<i4'))

# --- unsupported arrays (expected to be rejected) ---------------------------
np.save('c16.npy', np.array([1 + 2j]))
np.save('bool.npy', np.array([True, False]))
np.save('unicode.npy', np.array(['abc']))
np.save('object.npy', np.array([None, 1], dtype=object), allow_pickle=True)
np.save('structured.npy', np.zeros(1, dtype=[('a', '<f8')]))
